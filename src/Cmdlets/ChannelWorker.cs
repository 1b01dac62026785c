using System;
using System.Collections;
using System.Collections.Generic;
using System.Diagnostics;
using System.Management.Automation;
using System.Threading;
using ParallelMap.Engine;

namespace ParallelMap.Commands
{
    /// <summary>
    /// A worker whose items run on the far side of a serializing boundary, in a child PowerShell
    /// process or on a remote host (a <see cref="DriverChannel"/> from its <see cref="ChannelEndpoint"/>):
    /// one long-lived driver pipeline there, fed batch after batch. The items of the batch the engine
    /// handed this worker are sent ahead (<see cref="Worker{TIn, TOut}.PeekUpcoming"/>), so the
    /// child is never idle waiting for a round trip; each Process call then only reads the
    /// answer of its own item, in order.
    /// </summary>
    /// <remarks>
    /// A child that dies fails only the item it was running (the rest of what was sent had not
    /// started: the child runs items one after another) with <see cref="ProcessWorkerExitedException"/>;
    /// this worker starts a new child for its next item, so the engine's worker, and the run,
    /// go on. Recycling (-MaxItemsPerWorker, -MaxWorkerMemoryMB) happens between items the same way.
    /// A timeout or a stop kills the child (<see cref="Abort"/>): its cleanup script does not run.
    /// A channel whose loss the endpoint does not blame on the item (a remote host that died)
    /// throws the endpoint's <see cref="WorkerLostException"/> instead: the engine runs the item
    /// and the rest of the batch on other workers.
    /// </remarks>
    internal sealed partial class ChannelWorker : Worker<object?, object?>
    {
        /// <summary>At most this many items travel in one message.</summary>
        private const int MaxBatch = 256;

        /// <summary>How long a failed send waits for its child to be seen dead (a remote one is known so within about half a second).</summary>
        private const int DeathSeenMs = 2000;

        private readonly ProcessSetup _setup;
        private readonly ChannelWorkerSource _source;
        private readonly ChannelEndpoint _endpoint;
        private readonly Queue<long> _sent = new Queue<long>();
        private readonly List<KeyValuePair<long, object?>> _upcoming = new List<KeyValuePair<long, object?>>();
        private readonly Stopwatch _sinceMemoryCheck = Stopwatch.StartNew();
        private volatile DriverChannel? _child;
        private bool _recycleDue;

        /// <summary>How many of the next items are sent one per message (see <see cref="ChildEnded"/>).</summary>
        private int _runAlone;

        /// <summary>True while the item sent last was sent alone (a run-alone item, or the last before a recycle): nothing is sent after it.</summary>
        private bool _sentAlone;
        private int _aborted;

        internal ChannelWorker(ProcessSetup setup, ChannelWorkerSource source, ChannelEndpoint endpoint)
        {
            _setup = setup;
            _source = source;
            _endpoint = endpoint;

            // A failed item's retry prefers a worker of another host.
            Site = endpoint.Site;
        }

        protected override void Begin() => StartChild();

        protected override void Execute(WorkLoop loop)
        {
            loop.Run();
        }

        protected override void Process(object? input, ItemContext<object?> context)
        {
            if (_child is null || (_sent.Count == 0 && (_child.IsDead || _recycleDue)))
            {
                // A channel lost between items (its host died while idle): the item never ran here.
                if (_child is not null && _child.IsDead && _endpoint.Lost(_child) is WorkerLostException idleLost)
                {
                    Discard(_child);
                    throw idleLost;
                }

                Recycle();
            }

            DriverChannel child = _child!;
            if (_sent.Count == 0 || _sent.Peek() != context.Sequence)
            {
                if (_sent.Count > 0)
                {
                    // The child holds items this worker will not be asked for: start afresh.
                    Discard(child);
                    Recycle();
                    child = _child!;
                }

                child = SendFirst(child, input, context.Sequence);
            }

            // The child is on the last item it holds: hand it the next batch now, so that it
            // goes on with it instead of waiting a round trip (answer back, next batch out), which
            // left worker processes idle a quarter of the time on 15 ms items at 2 cores.
            if (_sent.Count == 1) SendAhead(child);

            // An error record is held until the next thing the child writes: the 'f' answer
            // makes it the item's terminating error, anything else a non-terminating one.
            ErrorRecord? held = null;
            while (true)
            {
                object next = child.Take(AbortToken);
                if (next is PSObject message)
                {
                    IList parts = (message.BaseObject as IList) ?? new object[] { "?" };
                    string kind = Text(parts.Count > 0 ? parts[0] : null);
                    if (kind != "k" && kind != "f") continue;
                    _sent.Dequeue();
                    child.ItemsDone++;
                    var outputs = new object?[parts.Count - 1];
                    for (int i = 1; i < parts.Count; i++) outputs[i - 1] = _endpoint.Decorate(parts[i]);
                    if (kind == "f" && held is not null)
                    {
                        context.Fail(new ItemErrorsException(new[] { (ErrorRecord)_endpoint.Decorate(WithTarget(held, input))! }, outputs));
                        held = null;
                        break;
                    }

                    if (kind == "f")
                    {
                        // The error the driver wrote was lost on the way: the item still failed.
                        context.Fail(new ItemErrorsException(new[] { new ErrorRecord(new InvalidOperationException(ErrorIds.ItemFailedId), ErrorIds.ItemFailedId, ErrorCategory.NotSpecified, input) }, outputs));
                        break;
                    }

                    if (held is not null) context.Record(_endpoint.Decorate(held)!);
                    foreach (object? o in outputs) context.Output(o);
                    if (_setup.ResultDepth is int depth) context.Attachment = ResultSerializer.WithOrigin(_endpoint.ComputerName, ResultSerializer.Serialize(outputs, depth));
                    break;
                }

                if (held is not null)
                {
                    context.Record(_endpoint.Decorate(held)!);
                    held = null;
                }

                if (next == DriverChannel.DriverFinished || next == DriverChannel.ProcessGone)
                {
                    if (ChildEnded(child, context))
                    {
                        // Not known to be this item's fault: run it again, alone, in a new child.
                        Recycle();
                        child = SendFirst(_child!, input, context.Sequence);
                        continue;
                    }

                    break;
                }

                if (next is ErrorRecord error)
                {
                    held = error;
                }
                else
                {
                    context.Record(_endpoint.Decorate(next)!);
                }
            }

            CheckRecycle(child);
        }

        /// <summary>
        /// A terminating error from the child, with the item as its target where it names none:
        /// a remote record's exception is a RemoteException, so the in-process test for a thrown
        /// string (whose target is the string itself) cannot see it; the test is made here.
        /// </summary>
        /// <summary>ErrorRecord's own internal target setter (keeps the record's id and position, as ErrorForwarding does).</summary>
        private static readonly System.Reflection.MethodInfo? SetTargetObject =
            typeof(ErrorRecord).GetMethod("SetTargetObject", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic, null, new[] { typeof(object) }, null);

        private static ErrorRecord WithTarget(ErrorRecord record, object? input)
        {
            object? target = record.TargetObject is PSObject p ? p.BaseObject : record.TargetObject;
            bool none = target is null || (target is string text && string.Equals(text, record.Exception?.Message, StringComparison.Ordinal));
            if (!none || input is null || SetTargetObject is null) return record;
            var copy = new ErrorRecord(record, null);
            SetTargetObject.Invoke(copy, new[] { input });
            return copy;
        }

        protected override void End()
        {
            DriverChannel? child = _child;
            _child = null;
            _endpoint.Released();
            if (child is null) return;
            if (Volatile.Read(ref _aborted) != 0)
            {
                Discard(child);
                return;
            }

            try
            {
                if (_endpoint.PoolSetup is ProcessSetup pool)
                {
                    if (GiveBack(child)) return;
                    child.Close(pool.CleanupScript, EmitRecord);
                }
                else
                {
                    child.Close(_setup.CleanupScript, EmitRecord);
                }
            }
            finally
            {
                _source.Forget(child);
            }
        }

        /// <summary>
        /// A pooled channel goes back to its pool once its driver finished (the end block ran) and
        /// the call's variables are undone; true when the pool kept it.
        /// </summary>
        private bool GiveBack(DriverChannel child)
        {
            child.FinishDriver(EmitRecord);
            if (child.IsDead) return false;
            List<ErrorRecord> errors = child.RunScript(ProcessScripts.Reset, EmitRecord);
            foreach (ErrorRecord e in errors) EmitRecord(_endpoint.Decorate(e)!);
            return errors.Count == 0 && !child.IsDead && Volatile.Read(ref _aborted) == 0 && _endpoint.Keep(child);
        }

        public override void Abort()
        {
            Interlocked.Exchange(ref _aborted, 1);
            _child?.Kill();
        }

        /// <summary>
        /// The child died, or its driver ended, under the item: fail the item, drop the child; the
        /// next item starts a new one. Returns true instead of failing when the death cannot be
        /// blamed on this item: several items were unanswered, and a child that crashes (a
        /// FailFast, a signal) can lose the answers of items it had finished, still queued in it
        /// for sending. Those items then run again one at a time (<see cref="_runAlone"/>), so
        /// that a death names its item; an item that had finished runs twice, which loses
        /// nothing, where failing it lost its output (found by the FailFast test).
        /// </summary>
        private bool ChildEnded(DriverChannel child, ItemContext<object?> context)
        {
            int unanswered = _sent.Count;
            _sent.Clear();
            ProcessWorkerHost host = child.Host;

            // 'exit' in the item's script unwinds the driver and tells the host the code.
            if (!host.ExitRequested)
            {
                // The host call may trail the pipeline's end by a moment.
                for (int i = 0; i < 20 && !host.ExitRequested && !child.HasEnded; i++) Thread.Sleep(10);
            }

            int pid = child.ProcessId;
            bool died = child.HasEnded || child.DriverFailure is not null;
            if (!host.ExitRequested && died && _endpoint.Lost(child) is WorkerLostException lost)
            {
                // Not the item's fault (a remote host that died): the engine runs it, and the
                // rest of what was sent, on other workers.
                Discard(child);
                throw lost;
            }

            if (!host.ExitRequested && unanswered > 1 && died)
            {
                _runAlone = unanswered;
                Discard(child);
                return true;
            }

            if (host.ExitRequested)
            {
                if (host.ExitCode != 0) context.Fail(new ProcessWorkerExitedException(pid, UserText.Format(Strings.ScriptExit, host.ExitCode)));
            }
            else if (died)
            {
                context.Fail(new ProcessWorkerExitedException(pid, child.DescribeExit()));
            }

            // Otherwise a labelled break no loop took ended the driver: the item ends quietly, as in-process.
            Discard(child);
            return false;
        }

        private void CheckRecycle(DriverChannel child)
        {
            if (_setup.MaxItemsPerWorker > 0 && child.ItemsDone >= _setup.MaxItemsPerWorker) _recycleDue = true;
            if (_setup.MaxWorkingSetBytes > 0 && _sinceMemoryCheck.ElapsedMilliseconds >= 200)
            {
                _sinceMemoryCheck.Restart();
                if (child.WorkingSet() > _setup.MaxWorkingSetBytes) _recycleDue = true;
            }
        }

        /// <summary>Ends the current child the orderly way (end block, cleanup) if it is alive, and starts a new one.</summary>
        private void Recycle()
        {
            DriverChannel? old = _child;
            _child = null;
            _recycleDue = false;
            _sent.Clear();
            if (old is not null)
            {
                if (old.IsDead)
                {
                    Discard(old);
                }
                else
                {
                    try
                    {
                        old.Close((_endpoint.PoolSetup ?? _setup).CleanupScript, EmitRecord);
                    }
                    finally
                    {
                        _source.Forget(old);
                    }
                }
            }

            StartChild();
        }

        private void StartChild()
        {
            if (Volatile.Read(ref _aborted) != 0) throw new OperationCanceledException();
            DriverChannel child = _endpoint.NewChannel();
            _source.Track(child);
            _child = child;

            // Abort may have come between the check and the store: it killed nothing then.
            if (Volatile.Read(ref _aborted) != 0)
            {
                child.Kill();
                throw new OperationCanceledException();
            }

            // A channel borrowed from a pool is open and has the pool's set-up already.
            if (!child.Prepared) _endpoint.Open(child, EmitRecord, AbortToken);
            try
            {
                SetUp(child);
            }
            catch (Exception ex) when (ex is not OperationCanceledException && _endpoint.LostDuringStart(child, EmitRecord) is WorkerLostException lost)
            {
                // The connection broke while the worker was being set up: not an error in the
                // set-up, which would stop the run; another worker takes this place.
                Discard(child);
                throw lost;
            }

            _endpoint.Started();
        }

        /// <summary>
        /// The set-up of a channel: the run's session state and init script (for a pooled channel,
        /// the pool's, once in its life, then the call's own variables), then the driver, until it
        /// says it is ready.
        /// </summary>
        private void SetUp(DriverChannel child)
        {
            ProcessSetup? pool = _endpoint.PoolSetup;
            if (!child.Prepared)
            {
                ProcessSetup first = pool ?? _setup;
                var errors = child.RunScript(ProcessScripts.Setup, EmitRecord, first.Functions, first.WorkingDirectory, first.Modules, first.Variables, first.ScriptBlocks);
                if (errors.Count > 0) throw SetupFailed(errors);
                if (first.InitializationScript is string init)
                {
                    errors = child.RunScript(init, EmitRecord);
                    if (errors.Count > 0) throw SetupFailed(errors);
                }

                child.Prepared = pool is not null;
            }

            if (pool is not null)
            {
                // The call's own location (a worker process; null for a remote host, which stays in its home).
                var errors = child.RunScript(ProcessScripts.Setup, EmitRecord, _setup.Functions, _setup.WorkingDirectory, Array.Empty<string>(), _setup.Variables, _setup.ScriptBlocks);
                if (errors.Count > 0) throw SetupFailed(errors);
            }

            child.StartDriver(_setup.ItemScript);
            while (true)
            {
                object next = child.Take(AbortToken);
                if (next is PSObject message && message.BaseObject is IList parts && parts.Count > 0)
                {
                    string kind = Text(parts[0]);
                    if (kind == "r") return;
                    if (kind == "b") throw new InvalidOperationException(UserText.Format(Strings.BeginBlockFailed, parts.Count > 1 ? Text(parts[1]) : string.Empty));
                }
                else if (next == DriverChannel.DriverFinished || next == DriverChannel.ProcessGone)
                {
                    throw new InvalidOperationException(UserText.Format(Strings.DriverNotReady, child.DriverFailure?.Message ?? child.DescribeExit()));
                }
                else if (next is not PSObject)
                {
                    EmitRecord(next);
                }
            }
        }

        /// <summary>The set-up's errors, each as the endpoint shows it (a remote one names its host).</summary>
        private ItemErrorsException SetupFailed(List<ErrorRecord> errors)
        {
            for (int i = 0; i < errors.Count; i++) errors[i] = (ErrorRecord)_endpoint.Decorate(errors[i])!;
            return new ItemErrorsException(errors);
        }

        private void Discard(DriverChannel child)
        {
            if (_child == child) _child = null;
            child.Kill();
            child.Dispose();
            _source.Forget(child);
        }

        private static string Text(object? value) => (value is PSObject p ? p.BaseObject : value) as string ?? string.Empty;
    }
}
