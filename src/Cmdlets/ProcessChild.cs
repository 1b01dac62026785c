using System;
using System.Collections;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Threading;

namespace ParallelMap.Commands
{
    /// <summary>
    /// One child PowerShell process and its out-of-process runspace, PowerShell's own (the one
    /// behind Start-Job): <c>PowerShellProcessInstance</c> and
    /// <c>RunspaceFactory.CreateOutOfProcessRunspace</c>, reached by reflection because the
    /// reference assembly (PowerShellStandard.Library 5.1.1) lacks them, while both Windows
    /// PowerShell 5.1 and PowerShell 7 have them. The instance starts the pwsh (or powershell.exe)
    /// of <c>$PSHOME</c>, whatever process hosts this one (under the .NET tool that process is dotnet).
    /// </summary>
    /// <remarks>
    /// Everything the driver pipeline writes (outputs and stream records) lands, in the order the
    /// child wrote it, in one queue that the worker thread reads: the remote client raises
    /// DataAdded for every stream on its one dispatch thread, message by message. <see cref="Kill"/>
    /// may be called from any thread; every other member belongs to the worker's thread.
    /// </remarks>
    internal sealed class ProcessChild
    {
        /// <summary>Queued when the driver pipeline has finished (completed, failed or stopped).</summary>
        internal static readonly object DriverFinished = new object();

        /// <summary>Queued when the process has exited.</summary>
        internal static readonly object ProcessGone = new object();

        private static readonly Lazy<(ConstructorInfo Ctor, PropertyInfo ProcessProperty, MethodInfo Create)> Api = new Lazy<(ConstructorInfo, PropertyInfo, MethodInfo)>(FindApi);
        private static readonly Lazy<TypeTable?> Types = new Lazy<TypeTable?>(() =>
        {
            try
            {
                return TypeTable.LoadDefaultTypeFiles();
            }
            catch (Exception)
            {
                // Deserialized objects then lack the default type adapters; they still arrive.
                return null;
            }
        });

        private readonly object _instance;
        /// <summary>How long after the process exits its driver may take to report its end.</summary>
        private const int DriverEndGraceMs = 3000;

        /// <summary>After the exit, the answers in the pipe count as all read once nothing new arrived for this long.</summary>
        private const int QuietMs = 250;

        /// <summary>The longest the exit waits for the pipe to be read (a child that died writing without end).</summary>
        private const int DrainCapMs = 5000;

        /// <summary>PowerShell's own Exited handler, run by <see cref="OnProcessExited"/> once the pipe is read.</summary>
        private EventHandler? _transportExited;

        /// <summary>When the child last wrote something (Stopwatch ticks), to tell when the pipe is drained.</summary>
        private long _lastPost = Stopwatch.GetTimestamp();

        private readonly BlockingCollection<object> _events = new BlockingCollection<object>();

        /// <summary>Set once DriverFinished is queued (see the Exited handler).</summary>
        private readonly ManualResetEventSlim _driverFinished = new ManualResetEventSlim(false);
        private readonly ProcessWorkerHost _host = new ProcessWorkerHost();
        private Runspace? _runspace;
        private PowerShell? _driver;
        private PSDataCollection<PSObject>? _input;
        private int _killed;

        internal ProcessChild(string? workingDirectory)
        {
            var api = Api.Value;
            _instance = api.Ctor.Invoke(new object?[] { null, null, null, false });
            Process = (Process)api.ProcessProperty.GetValue(_instance, null);
            if (workingDirectory is not null && System.IO.Directory.Exists(workingDirectory)) Process.StartInfo.WorkingDirectory = workingDirectory;
            // The exit is seen at once, while the driver's last answers may still be on their way
            // over the pipe: posted now, ProcessGone would overtake an answer the child had
            // written, and that finished item would be failed as the crashed one (found by the
            // FailFast test). So first let the answers already in the pipe arrive (see
            // TransportExitHandler), then let PowerShell break the session, then wait for the
            // driver's end, which comes after every answer it received; ProcessGone is only the
            // fallback when the driver never reports its end.
            Process.Exited += (s, e) => ThreadPool.QueueUserWorkItem(_ => OnProcessExited());
        }

        /// <summary>The child process (started by <see cref="Open"/>).</summary>
        internal Process Process { get; }

        /// <summary>The process id, or 0 before the process started.</summary>
        internal int ProcessId { get; private set; }

        /// <summary>Items this child has finished (for -MaxItemsPerWorker).</summary>
        internal int ItemsDone { get; set; }

        /// <summary>True once the child's script called exit.</summary>
        internal ProcessWorkerHost Host => _host;

        /// <summary>True when the process is gone or the runspace broken: no item can run here.</summary>
        internal bool IsDead => Volatile.Read(ref _killed) != 0 || SafeHasExited() || _runspace is null || _runspace.RunspaceStateInfo.State != RunspaceState.Opened;

        /// <summary>Starts the process and opens its runspace (seconds on a loaded machine).</summary>
        internal void Open()
        {
            _runspace = (Runspace)Api.Value.Create.Invoke(null, new object?[] { Types.Value, _instance });
            _runspace.Open();
            // A child already gone has had PowerShell's handler run: nothing is left to defer.
            if (!HasExitedOrUnknown()) _transportExited = TransportExitHandler.Detach(Process);
            if (Volatile.Read(ref _killed) != 0)
            {
                // Aborted while the process started: it must not outlive the abort.
                Kill();
                throw new OperationCanceledException();
            }

            try
            {
                ProcessId = Process.Id;
            }
            catch (InvalidOperationException)
            {
                // The process already ended; IsDead says so.
            }
        }

        /// <summary>Runs a whole script in the child's global scope; forwards its stream records; returns its errors and outputs.</summary>
        internal List<ErrorRecord> RunScript(string script, Action<object> forward, params object?[] arguments)
        {
            var errors = new List<ErrorRecord>();
            using var ps = PowerShell.Create();
            ps.Runspace = _runspace;
            ps.AddScript(script, useLocalScope: false);
            foreach (object? a in arguments) ps.AddArgument(a);
            Hook(ps.Streams, forward, errors);
            try
            {
                foreach (PSObject o in ps.Invoke(null, new PSInvocationSettings { Host = _host }))
                {
                    if (o is not null) forward(new EndOutput(o));
                }
            }
            catch (RuntimeException ex)
            {
                errors.Add(ex.ErrorRecord);
            }

            return errors;
        }

        /// <summary>Starts the long-lived driver pipeline; the first message it writes says whether the item script's begin block ran.</summary>
        internal void StartDriver(string itemScript)
        {
            _input = new PSDataCollection<PSObject>();
            var output = new PSDataCollection<PSObject>();
            output.DataAdded += (s, e) => Drain(s);
            _driver = PowerShell.Create();
            _driver.Runspace = _runspace;
            _driver.AddScript(ProcessScripts.Driver).AddArgument(itemScript);
            Hook(_driver.Streams, null, null);
            _driver.InvocationStateChanged += (s, e) =>
            {
                PSInvocationState state = e.InvocationStateInfo.State;
                if (state == PSInvocationState.Completed || state == PSInvocationState.Failed || state == PSInvocationState.Stopped)
                {
                    Post(DriverFinished);
                    _driverFinished.Set();
                }
            };
            _driver.BeginInvoke(_input, output, new PSInvocationSettings { Host = _host }, null, null);
        }

        /// <summary>Why the driver ended, if it failed.</summary>
        internal Exception? DriverFailure => _driver?.InvocationStateInfo.Reason;

        /// <summary>Sends one batch of items (one message to the child).</summary>
        internal void Send(object?[] batch) => _input!.Add(new PSObject(batch));

        /// <summary>Ends the driver's input: it runs the script's end block and finishes.</summary>
        internal void CompleteInput() => _input?.Complete();

        /// <summary>The next thing the child wrote, in order; throws OperationCanceledException when <paramref name="token"/> is cancelled.</summary>
        internal object Take(CancellationToken token) => _events.Take(token);

        /// <summary>Like <see cref="Take"/>, but gives up after <paramref name="milliseconds"/> (null then).</summary>
        internal object? TryTake(int milliseconds)
        {
            return _events.TryTake(out object? item, milliseconds) ? item : null;
        }

        /// <summary>The working set of the child, in bytes (0 when it cannot be read).</summary>
        internal long WorkingSet()
        {
            try
            {
                Process.Refresh();
                return Process.WorkingSet64;
            }
            catch (Exception)
            {
                return 0;
            }
        }

        /// <summary>How the process ended, for WorkerProcessExited: its exit code, and on Unix the signal that killed it.</summary>
        internal string DescribeExit()
        {
            if (!Process.WaitForExit(3000)) return Strings.Format(ProcessStrings.ConnectionBroken, DriverFailure?.Message ?? "unknown");
            int code = Process.ExitCode;
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Windows) && code > 128 && code < 160)
            {
                int signal = code - 128;
                string name = signal switch { 9 => ", SIGKILL", 6 => ", SIGABRT", 11 => ", SIGSEGV", 15 => ", SIGTERM", 2 => ", SIGINT", _ => string.Empty };
                return Strings.Format(ProcessStrings.ExitSignal, code, signal, name);
            }

            return Strings.Format(ProcessStrings.ExitCode, code);
        }

        /// <summary>
        /// Finishes the driver (its end block's outputs go to <paramref name="forward"/>), runs the
        /// cleanup script, and closes the runspace; the process then exits on its own, or is killed.
        /// </summary>
        internal void Close(string? cleanupScript, Action<object> forward)
        {
            try
            {
                if (!IsDead && _driver is not null)
                {
                    CompleteInput();
                    var deadline = Stopwatch.StartNew();
                    while (true)
                    {
                        object? next = TryTake(200);
                        if (next == DriverFinished || next == ProcessGone) break;
                        if (next is PSObject message && message.BaseObject is IList list && list.Count > 0 && (list[0] as string ?? (list[0] as PSObject)?.BaseObject as string) == "e")
                        {
                            for (int i = 1; i < list.Count; i++) forward(new EndOutput(list[i]));
                        }
                        else if (next is not null && next is not PSObject)
                        {
                            forward(next);
                        }

                        if (next is null && IsDead) break;
                    }
                }

                if (cleanupScript is not null && !IsDead)
                {
                    foreach (var e in RunScript(cleanupScript, forward)) forward(e);
                }
            }
            finally
            {
                Dispose();
            }
        }

        /// <summary>Ends the process at once (timeout, stop, or a child that cannot go on). Any thread; idempotent.</summary>
        internal void Kill()
        {
            Interlocked.Exchange(ref _killed, 1);
            try
            {
                ((IDisposable)_instance).Dispose();
            }
            catch (Exception)
            {
                // Already gone.
            }

            try
            {
                // The instance kills only once; a process started after that is killed here.
                if (!Process.HasExited) Process.Kill();
            }
            catch (Exception)
            {
                // Not started, or already gone.
            }
        }

        /// <summary>Closes the runspace and makes sure the process is gone.</summary>
        internal void Dispose()
        {
            if (IsDead)
            {
                // The exit handler breaks a dead child's session, but not always at once (the
                // client's state machine may still be busy): disposing its PowerShell could then
                // wait for ever for a stop that no process will acknowledge (found as a CI run
                // that never ended). Only the runspace is disposed, on a pool thread: that marks
                // it disposed at once, so that pwsh does not wait for it when it exits, and its
                // close completes when the session breaks. The driver is left to the collector.
                Kill();
                System.Threading.Tasks.Task.Run(DisposeRunspace);
                return;
            }

            ReleaseClient();
            try
            {
                if (ProcessId != 0 && !Process.WaitForExit(2000)) Kill();
            }
            catch (Exception)
            {
                // The process object is unusable; kill by every other means.
            }

            Kill();
        }

        private void DisposeRunspace()
        {
            try
            {
                _runspace?.Dispose();
            }
            catch (Exception)
            {
                // A broken runspace may fail to close.
            }
        }

        private void ReleaseClient()
        {
            try
            {
                _driver?.Dispose();
            }
            catch (Exception)
            {
                // A broken driver may fail to dispose; the process goes either way.
            }

            DisposeRunspace();
        }

        private bool SafeHasExited() => ProcessId != 0 && HasExitedOrUnknown();

        /// <summary>Runs on a pool thread when the process has exited (by itself, or killed).</summary>
        private void OnProcessExited()
        {
            if (Volatile.Read(ref _killed) == 0)
            {
                var waited = Stopwatch.StartNew();
                while (waited.ElapsedMilliseconds < DrainCapMs && ElapsedSince(Volatile.Read(ref _lastPost)) < QuietMs) Thread.Sleep(50);
            }

            OnProcessExitedIfDetached();
            if (!_driverFinished.Wait(DriverEndGraceMs)) Post(ProcessGone);
        }

        /// <summary>Lets PowerShell see the exit, and breaks the session (which ends the driver); once.</summary>
        private void OnProcessExitedIfDetached()
        {
            EventHandler? transport = Interlocked.Exchange(ref _transportExited, null);
            if (transport is null) return;

            // A runspace closed the orderly way saw its child exit as it should: nothing to report.
            if (_runspace is not null && _runspace.RunspaceStateInfo.State != RunspaceState.Opened) return;
            TransportExitHandler.ReportExit(transport, Process, ProcessStrings.ProcessEnded);
        }

        private bool HasExitedOrUnknown()
        {
            try
            {
                return Process.HasExited;
            }
            catch (Exception)
            {
                return true;
            }
        }

        private static long ElapsedSince(long timestamp) => (Stopwatch.GetTimestamp() - timestamp) * 1000 / Stopwatch.Frequency;

        private void Post(object item)
        {
            Volatile.Write(ref _lastPost, Stopwatch.GetTimestamp());
            try
            {
                _events.Add(item);
            }
            catch (Exception)
            {
                // Disposed: nobody reads any more.
            }
        }

        private void Drain(object? collection)
        {
            foreach (PSObject o in ((PSDataCollection<PSObject>)collection!).ReadAll()) Post(o);
        }

        /// <summary>Queues every stream record (or forwards it, for a set-up script) in the order written.</summary>
        private void Hook(PSDataStreams s, Action<object>? forward, List<ErrorRecord>? errors)
        {
            void Add<T>(PSDataCollection<T> c, bool isError)
            {
                c.DataAdded += (sender, e) =>
                {
                    foreach (T r in ((PSDataCollection<T>)sender!).ReadAll())
                    {
                        if (r is null) continue;
                        if (forward is null) Post(r);
                        else if (isError) errors!.Add((ErrorRecord)(object)r);
                        else forward(r);
                    }
                };
            }

            Add(s.Error, true);
            Add(s.Warning, false);
            Add(s.Verbose, false);
            Add(s.Debug, false);
            Add(s.Information, false);
            Add(s.Progress, false);
        }

        private static (ConstructorInfo, PropertyInfo, MethodInfo) FindApi()
        {
            Assembly sma = typeof(Runspace).Assembly;
            Type instance = sma.GetType("System.Management.Automation.Runspaces.PowerShellProcessInstance", throwOnError: true)!;
            ConstructorInfo ctor = instance.GetConstructor(new[] { typeof(Version), typeof(PSCredential), typeof(ScriptBlock), typeof(bool) })
                ?? throw new PlatformNotSupportedException("PowerShellProcessInstance(Version, PSCredential, ScriptBlock, bool)");
            PropertyInfo process = instance.GetProperty("Process") ?? throw new PlatformNotSupportedException("PowerShellProcessInstance.Process");
            MethodInfo create = typeof(RunspaceFactory).GetMethod("CreateOutOfProcessRunspace", new[] { typeof(TypeTable), instance })
                ?? throw new PlatformNotSupportedException("RunspaceFactory.CreateOutOfProcessRunspace(TypeTable, PowerShellProcessInstance)");
            return (ctor, process, create);
        }
    }
}
