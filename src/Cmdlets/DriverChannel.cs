using System;
using System.Collections;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Threading;

namespace ParallelMap.Commands
{
    /// <summary>
    /// A runspace on the far side of a serializing boundary (a child process, <see cref="ProcessChild"/>,
    /// or a remote host, a remote runspace) driven the same way: set-up scripts run
    /// whole (<see cref="RunScript"/>), then one long-lived driver pipeline
    /// (<see cref="ProcessScripts.Driver"/>) is fed batch after batch (<see cref="Send"/>).
    /// What differs is how the far end is reached, how its loss is seen, and how it is killed.
    /// </summary>
    /// <remarks>
    /// Everything the driver pipeline writes (outputs and stream records) lands, in the order the
    /// far end wrote it, in one queue that the worker thread reads: the remote client raises
    /// DataAdded for every stream on its one dispatch thread, message by message. <see cref="Kill"/>
    /// may be called from any thread; every other member belongs to the worker's thread.
    /// </remarks>
    internal abstract class DriverChannel
    {
        /// <summary>Queued when the driver pipeline has finished (completed, failed or stopped).</summary>
        internal static readonly object DriverFinished = new object();

        /// <summary>Queued when the far end is gone (the process exited, the connection broke).</summary>
        internal static readonly object ProcessGone = new object();

        private static readonly Lazy<TypeTable?> DefaultTypes = new Lazy<TypeTable?>(() =>
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

        private readonly BlockingCollection<object> _events = new BlockingCollection<object>();

        /// <summary>Set once DriverFinished is queued.</summary>
        private readonly ManualResetEventSlim _driverFinished = new ManualResetEventSlim(false);
        private readonly ProcessWorkerHost _host = new ProcessWorkerHost();
        private PowerShell? _driver;
        private PSDataCollection<PSObject>? _input;

        /// <summary>When the far end last wrote something (Stopwatch ticks), to tell when the pipe is drained.</summary>
        private long _lastPost = Stopwatch.GetTimestamp();

        /// <summary>Set once the channel was killed (any thread).</summary>
        private int _killed;

        /// <summary>Set once the far end is known gone although the runspace may not say so (<see cref="FarEndGone"/>).</summary>
        private readonly ManualResetEventSlim _gone = new ManualResetEventSlim(false);

        /// <summary>Set by <see cref="FarEndGone"/> and by <see cref="Kill"/>: nothing more is awaited from the far end.</summary>
        private readonly ManualResetEventSlim _abandoned = new ManualResetEventSlim(false);

        /// <summary>The types deserialized objects are adapted with.</summary>
        protected static TypeTable? Types => DefaultTypes.Value;

        /// <summary>The runspace on the far side, once opened.</summary>
        protected Runspace? Runspace { get; set; }

        /// <summary>The far end's process id (of the remote pwsh, for a remote channel), or 0 when unknown.</summary>
        internal int ProcessId { get; private protected set; }

        /// <summary>Items this channel has finished (for -MaxItemsPerWorker).</summary>
        internal int ItemsDone { get; set; }

        /// <summary>The host the far end's script reaches: it says whether the script called exit.</summary>
        internal ProcessWorkerHost Host => _host;

        /// <summary>True once <see cref="Kill"/> was called.</summary>
        protected bool Killed => Volatile.Read(ref _killed) != 0;

        /// <summary>True when the far end is gone or the runspace broken: no item can run here.</summary>
        internal virtual bool IsDead => Killed || IsGone || Runspace is null || Runspace.RunspaceStateInfo.State != RunspaceState.Opened;

        /// <summary>True once <see cref="FarEndGone"/> was called.</summary>
        protected bool IsGone => _gone.IsSet;

        /// <summary>True when the far end ended by itself (the process exited, the connection broke), as opposed to a driver that merely finished.</summary>
        internal abstract bool HasEnded { get; }

        /// <summary>Opens the runspace on the far side (seconds on a loaded machine).</summary>
        internal abstract void Open();

        /// <summary>How the far end ended, for the error of the item it ran.</summary>
        internal abstract string DescribeExit();

        /// <summary>The far end's working set in bytes (0 when it cannot be read).</summary>
        internal virtual long WorkingSet() => 0;

        /// <summary>
        /// Runs a whole script in the far end's global scope; forwards its stream records; returns
        /// its errors. A far end that goes away meanwhile (<see cref="FarEndGone"/>), or a kill,
        /// ends the wait with an error saying so, since a transport that missed the loss would
        /// never answer.
        /// </summary>
        internal List<ErrorRecord> RunScript(string script, Action<object> forward, params object?[] arguments)
        {
            var errors = new List<ErrorRecord>();
            var ps = PowerShell.Create();
            ps.Runspace = Runspace;
            ps.AddScript(script, useLocalScope: false);
            foreach (object? a in arguments) ps.AddArgument(a);
            Hook(ps.Streams, forward, errors);
            var output = new PSDataCollection<PSObject>();
            bool finished = false;
            try
            {
                IAsyncResult pending = ps.BeginInvoke<PSObject, PSObject>(null, output, new PSInvocationSettings { Host = _host }, null, null);
                if (WaitHandle.WaitAny(new[] { pending.AsyncWaitHandle, _abandoned.WaitHandle }) != 0 && !pending.IsCompleted)
                {
                    errors.Add(new ErrorRecord(new InvalidOperationException(DescribeExit()), "FarEndGone", ErrorCategory.ConnectionError, null));
                    return errors;
                }

                ps.EndInvoke(pending);
                finished = true;
                foreach (PSObject o in output)
                {
                    if (o is not null) forward(new EndOutput(o));
                }
            }
            catch (RuntimeException ex)
            {
                finished = true;
                errors.Add(ex.ErrorRecord);
            }
            finally
            {
                // A pipeline still running on a far end that is gone is left to the runspace's
                // close: disposing it would stop it, and a stop waits for an answer that never comes.
                if (finished || !_abandoned.IsSet) ps.Dispose();
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
            _driver.Runspace = Runspace;
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

        /// <summary>Sends one batch of items (one message to the far end).</summary>
        internal void Send(object?[] batch) => _input!.Add(new PSObject(batch));

        /// <summary>Ends the driver's input: it runs the script's end block and finishes.</summary>
        internal void CompleteInput() => _input?.Complete();

        /// <summary>The next thing the far end wrote, in order; throws OperationCanceledException when <paramref name="token"/> is cancelled.</summary>
        internal object Take(CancellationToken token) => _events.Take(token);

        /// <summary>Like <see cref="Take"/>, but gives up after <paramref name="milliseconds"/> (null then).</summary>
        internal object? TryTake(int milliseconds)
        {
            return _events.TryTake(out object? item, milliseconds) ? item : null;
        }

        /// <summary>
        /// Finishes the driver (its end block's outputs go to <paramref name="forward"/>), runs the
        /// cleanup script, and closes the runspace.
        /// </summary>
        internal void Close(string? cleanupScript, Action<object> forward)
        {
            try
            {
                FinishDriver(forward);
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

        /// <summary>
        /// Ends the driver's input and waits for its end; its end block's outputs go to
        /// <paramref name="forward"/>. The runspace stays open: a pooled one runs the next call's driver.
        /// </summary>
        internal void FinishDriver(Action<object> forward)
        {
            if (IsDead || _driver is null) return;
            CompleteInput();
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

            if (IsDead) return;
            try
            {
                _driver.Dispose();
            }
            catch (Exception)
            {
                // A finished pipeline disposes without a word; a broken one is no loss.
            }

            // The state handler queues DriverFinished just before it sets the event: let it finish.
            _driverFinished.Wait(1000);
            _driver = null;
            _input = null;
            _driverFinished.Reset();
        }

        /// <summary>True once this channel ran a pool's set-up (modules, initialization): a later call only adds its own.</summary>
        internal bool Prepared { get; set; }

        /// <summary>Ends the far end at once (timeout, stop, or a channel that cannot go on). Any thread; idempotent; never blocks.</summary>
        internal void Kill()
        {
            Interlocked.Exchange(ref _killed, 1);
            _abandoned.Set();
            KillFarEnd();
        }

        /// <summary>What <see cref="Kill"/> does to the far end.</summary>
        protected abstract void KillFarEnd();

        /// <summary>Closes the runspace and makes sure the far end is gone.</summary>
        internal abstract void Dispose();

        /// <summary>Waits until the driver reported its end, at most <paramref name="milliseconds"/>.</summary>
        protected bool WaitDriverFinished(int milliseconds) => _driverFinished.Wait(milliseconds);

        /// <summary>How long ago the far end last wrote something, in milliseconds.</summary>
        protected long QuietForMs => (Stopwatch.GetTimestamp() - Volatile.Read(ref _lastPost)) * 1000 / Stopwatch.Frequency;

        /// <summary>Closes the runspace, swallowing what a broken one throws.</summary>
        protected void DisposeRunspace()
        {
            try
            {
                Runspace?.Dispose();
            }
            catch (Exception)
            {
                // A broken runspace may fail to close.
            }
        }

        /// <summary>Disposes the driver, then the runspace (the orderly way, for a live far end).</summary>
        protected void ReleaseClient()
        {
            try
            {
                _driver?.Dispose();
            }
            catch (Exception)
            {
                // A broken driver may fail to dispose; the far end goes either way.
            }

            DisposeRunspace();
        }

        /// <summary>Stops the driver without waiting (the far end answers, or the runspace's close ends it).</summary>
        protected void BeginStopDriver()
        {
            try
            {
                _driver?.BeginStop(null, null);
            }
            catch (Exception)
            {
                // Not running, or already broken.
            }
        }

        /// <summary>
        /// The far end is gone, seen by the channel itself rather than by PowerShell (any thread):
        /// whatever waits on it stops waiting, and <see cref="ProcessGone"/> is queued after what
        /// the far end wrote before.
        /// </summary>
        protected void FarEndGone()
        {
            if (_gone.IsSet) return;
            _gone.Set();
            _abandoned.Set();
            Post(ProcessGone);
        }

        /// <summary>Queues something for the worker thread.</summary>
        protected void Post(object item)
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
    }
}
