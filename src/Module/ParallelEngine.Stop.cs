using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;

namespace ParallelMap.Engine
{
    // Stop, fault, shutdown and dispose.
    public sealed partial class ParallelEngine<TIn, TOut>
    {
        /// <summary>
        /// Waits for every worker to run its end and exit, delivering the records they emit
        /// meanwhile; completes the input first. A worker that ends normally is waited for as long
        /// as its end takes (it is the user's cleanup); a worker that was aborted (timeout, stop) is
        /// waited for until <see cref="EngineOptions.ShutdownTimeout"/> after the first shutdown
        /// began, then abandoned, and one still inside the interrupted call (it ignores the abort)
        /// is abandoned <see cref="StuckWorkerGrace"/> after its abort already. Returns false if
        /// some worker was abandoned.
        /// </summary>
        /// <returns>True when every worker thread exited.</returns>
        public bool Shutdown()
        {
            Complete();
            long deadline = ShutdownDeadline();
            while (true)
            {
                DeliverReady();
                long giveUp = long.MinValue;
                lock (_lock)
                {
                    if (_threads.Count == 0 && _outbox.Count == 0) return true;
                    foreach (var slot in _threads)
                    {
                        giveUp = Math.Max(giveUp, GiveUpTicks(slot, deadline));
                    }
                }

                long left = giveUp == long.MaxValue ? long.MaxValue : giveUp - _clock.ElapsedTicks;
                if (left <= 0) return false;
                WaitForActivity((int)Math.Max(1, Math.Min(_options.IdleCallbackInterval.TotalMilliseconds, left * 1000 / Stopwatch.Frequency)));
                _sink.OnWait();
            }
        }

        /// <summary>
        /// Stops the run from any thread: unstarted items are reported not run, running ones
        /// cancelled, busy workers aborted. Returns at once; the caller's pending wait ends promptly.
        /// </summary>
        public void Stop() => StopCore(StopReason.Requested);

        /// <summary>
        /// Stops what is still running, waits up to <see cref="EngineOptions.ShutdownTimeout"/> for
        /// the workers to run their end, and releases everything. Records emitted meanwhile are dropped;
        /// call <see cref="Shutdown"/> first to receive them. Then closes the worker source
        /// (<see cref="IWorkerSource{TIn, TOut}.CloseAll"/>). Safe to call more than once, from any thread.
        /// </summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            _cancelRegistration.Dispose();
            bool finished;
            lock (_lock)
            {
                CollectPendingLocked();
                finished = _inputCompleted && _input.Count == 0 && _delayed.Count == 0 && _completed == _submitted;
            }
            if (!finished) StopCore(StopReason.Requested);
            lock (_lock)
            {
                _inputCompleted = true;
                _workerWait.WakeAll(_lock);
                _roomWait.WakeAll(_lock);
                _turnWait.WakeAll(_lock);
                _callerWait.WakeAll(_lock);
            }

            _watchdogWake.Set();
            long deadline = ShutdownDeadline();
            WorkerSlot<TIn, TOut>[] threads;
            lock (_lock) threads = _threads.ToArray();
            foreach (var slot in threads)
            {
                // Polled, because a stuck worker that comes back meanwhile earns the full deadline.
                while (true)
                {
                    long left = Math.Min(deadline, GiveUpTicks(slot, deadline)) - _clock.ElapsedTicks;
                    if (left <= 0) break;
                    if (slot.Thread!.Join((int)Math.Max(1, Math.Min(50, left * 1000 / Stopwatch.Frequency)))) break;
                }
            }

            _watchdog?.Join((int)Math.Max(0, (deadline - _clock.ElapsedTicks) * 1000 / Stopwatch.Frequency) + 100);
            lock (_lock) _outbox.Clear();

            // Last: the workers are done with the source (an abandoned one only runs its own end).
            _source.CloseAll();
        }

        /// <summary>
        /// Until when Shutdown and Dispose wait for a worker's thread, in engine clock ticks
        /// (long.MaxValue: as long as its end takes). An aborted worker back from the interrupted
        /// call gets the shutdown deadline for its end; one still inside the call gets
        /// <see cref="StuckWorkerGrace"/> from its abort: a call that ignores the abort (a blocking
        /// .NET call in a runspace) may last minutes, and the stop promise is a prompt return. Its
        /// thread is a background thread, and its end runs when it comes back.
        /// </summary>
        private long GiveUpTicks(WorkerSlot<TIn, TOut> slot, long deadline)
        {
            if (!slot.AbortRequested) return long.MaxValue;
            long interruptedAt = Volatile.Read(ref slot.AbortedAtTicks);

            // Told to stop but not interrupted (idle, or still in its begin), or back already.
            if (interruptedAt == 0 || slot.Ending) return deadline;
            return Math.Min(deadline, interruptedAt + (long)(StuckWorkerGrace.TotalSeconds * Stopwatch.Frequency));
        }

        /// <summary>One deadline for Shutdown and Dispose together, so a stop never waits twice.</summary>
        private long ShutdownDeadline()
        {
            long ticks = (long)(_options.ShutdownTimeout.TotalSeconds * Stopwatch.Frequency);
            long fresh = _clock.ElapsedTicks + ticks;
            long existing = Interlocked.CompareExchange(ref _shutdownDeadline, fresh, 0);
            return existing == 0 ? fresh : existing;
        }

        private void FaultCore(Exception fault)
        {
            lock (_lock)
            {
                _fault ??= fault;
            }

            StopCore(StopReason.WorkerFaulted);
        }

        private void StopCore(StopReason reason)
        {
            WorkerSlot<TIn, TOut>[] slots;
            lock (_lock)
            {
                if (_stopping) return;
                _stopping = true;
                _stopReason = reason;
                ReportUnstartedLocked(_input);
                foreach (var e in _delayed)
                {
                    // It ran and failed; its retry will not happen.
                    Exception last = e.PreviousErrors![e.PreviousErrors.Count - 1];
                    e.PreviousErrors.RemoveAt(e.PreviousErrors.Count - 1);
                    AddToOutboxLocked(MakeOutcome(e, ItemStatus.Failed, last, Array.Empty<TOut>(), TimeSpan.Zero, 0));
                }

                _delayed.Clear();
                slots = _threads.ToArray();
                AssertInvariants();
            }

            var cancelled = new List<object>();
            foreach (var slot in slots)
            {
                WorkEntry? current;
                int attempt;
                lock (slot.Sync)
                {
                    slot.Aborted = true;
                    slot.AbortRequested = true;
                    current = slot.Current;
                    attempt = slot.CurrentAttempt;
                    foreach (var e in slot.Local) cancelled.Add(e);
                    slot.Local.Clear();
                }

                if (current is not null && TryClaim(current, attempt))
                {
                    cancelled.Add(MakeOutcome(current, ItemStatus.Cancelled, new OperationCanceledException(Messages.ItemCancelled), Array.Empty<TOut>(), TimeSpan.Zero, slot.Id));
                    AbortWorker(slot);
                }
            }

            lock (_lock)
            {
                foreach (object o in cancelled)
                {
                    AddToOutboxLocked(o is WorkEntry e ? MakeOutcome(e, ItemStatus.NotRun, null, Array.Empty<TOut>(), TimeSpan.Zero, 0) : o);
                }

                _workerWait.WakeAll(_lock);
                _roomWait.WakeAll(_lock);
                _turnWait.WakeAll(_lock);
                _callerWait.WakeAll(_lock);
                AssertInvariants();
            }

            _watchdogWake.Set();
        }

        /// <summary>Reports every queued entry as not run (stopping; lock held).</summary>
        private void ReportUnstartedLocked(Queue<WorkEntry> queue)
        {
            while (queue.Count > 0)
            {
                AddToOutboxLocked(MakeOutcome(queue.Dequeue(), ItemStatus.NotRun, null, Array.Empty<TOut>(), TimeSpan.Zero, 0));
            }
        }

        /// <summary>Interrupts a worker inside an item (its attempt was claimed by a stop or the watchdog).</summary>
        private void AbortWorker(WorkerSlot<TIn, TOut> slot)
        {
            // The time first, then the flag: GiveUpTicks reads them in the other order.
            Interlocked.CompareExchange(ref slot.AbortedAtTicks, Math.Max(1, _clock.ElapsedTicks), 0);
            slot.AbortRequested = true;
            try
            {
                slot.AbortSource.Cancel();
            }
            catch (AggregateException)
            {
                // A callback registered by the worker threw; the abort below still happens.
            }

            try
            {
                slot.Worker?.Abort();
            }
            catch (Exception)
            {
                // Swallowed only because the worker is being discarded.
            }
        }
    }
}
