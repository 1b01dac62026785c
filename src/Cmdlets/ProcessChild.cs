using System;
using System.Diagnostics;
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
    internal sealed class ProcessChild : DriverChannel
    {
        private static readonly Lazy<(ConstructorInfo Ctor, PropertyInfo ProcessProperty, MethodInfo Create)> Api = new Lazy<(ConstructorInfo, PropertyInfo, MethodInfo)>(FindApi);

        /// <summary>How long after the process exits its driver may take to report its end.</summary>
        private const int DriverEndGraceMs = 3000;

        /// <summary>After the exit, the answers in the pipe count as all read once nothing new arrived for this long.</summary>
        private const int QuietMs = 250;

        /// <summary>The longest the exit waits for the pipe to be read (a child that died writing without end).</summary>
        private const int DrainCapMs = 5000;

        private readonly object _instance;

        /// <summary>PowerShell's own Exited handler, run by <see cref="OnProcessExited"/> once the pipe is read.</summary>
        private EventHandler? _transportExited;

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

        internal override bool IsDead => base.IsDead || SafeHasExited();

        internal override bool HasEnded => HasExitedOrUnknown();

        internal override void Open()
        {
            Runspace = (Runspace)Api.Value.Create.Invoke(null, new object?[] { Types, _instance });
            Runspace.Open();
            // A child already gone has had PowerShell's handler run: nothing is left to defer.
            if (!HasExitedOrUnknown()) _transportExited = TransportExitHandler.Detach(Process);
            if (Killed)
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

        internal override long WorkingSet()
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
        internal override string DescribeExit()
        {
            if (!Process.WaitForExit(3000)) return UserText.Format(Strings.ConnectionBroken, DriverFailure?.Message ?? "unknown");
            int code = Process.ExitCode;
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Windows) && code > 128 && code < 160)
            {
                int signal = code - 128;
                string name = signal switch { 9 => ", SIGKILL", 6 => ", SIGABRT", 11 => ", SIGSEGV", 15 => ", SIGTERM", 2 => ", SIGINT", _ => string.Empty };
                return UserText.Format(Strings.ExitSignal, code, signal, name);
            }

            return UserText.Format(Strings.ExitCode, code);
        }

        protected override void KillFarEnd()
        {
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

        internal override void Dispose()
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

        private bool SafeHasExited() => ProcessId != 0 && HasExitedOrUnknown();

        /// <summary>Runs on a pool thread when the process has exited (by itself, or killed).</summary>
        private void OnProcessExited()
        {
            if (!Killed)
            {
                var waited = Stopwatch.StartNew();
                while (waited.ElapsedMilliseconds < DrainCapMs && QuietForMs < QuietMs) Thread.Sleep(50);
            }

            OnProcessExitedIfDetached();
            if (!WaitDriverFinished(DriverEndGraceMs)) Post(ProcessGone);
        }

        /// <summary>Lets PowerShell see the exit, and breaks the session (which ends the driver); once.</summary>
        private void OnProcessExitedIfDetached()
        {
            EventHandler? transport = Interlocked.Exchange(ref _transportExited, null);
            if (transport is null) return;

            // A runspace closed the orderly way saw its child exit as it should: nothing to report.
            if (Runspace is not null && Runspace.RunspaceStateInfo.State != RunspaceState.Opened) return;
            TransportExitHandler.ReportExit(transport, Process, Strings.ProcessEnded);
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

        private static (ConstructorInfo, PropertyInfo, MethodInfo) FindApi()
        {
            Assembly sma = typeof(Runspace).Assembly;
            Type instance = sma.GetType("System.Management.Automation.Runspaces.PowerShellProcessInstance", throwOnError: true)!;
            ConstructorInfo ctor = instance.GetConstructor(new[] { typeof(Version), typeof(System.Management.Automation.PSCredential), typeof(System.Management.Automation.ScriptBlock), typeof(bool) })
                ?? throw new PlatformNotSupportedException("PowerShellProcessInstance(Version, PSCredential, ScriptBlock, bool)");
            PropertyInfo process = instance.GetProperty("Process") ?? throw new PlatformNotSupportedException("PowerShellProcessInstance.Process");
            MethodInfo create = typeof(RunspaceFactory).GetMethod("CreateOutOfProcessRunspace", new[] { typeof(TypeTable), instance })
                ?? throw new PlatformNotSupportedException("RunspaceFactory.CreateOutOfProcessRunspace(TypeTable, PowerShellProcessInstance)");
            return (ctor, process, create);
        }
    }
}
