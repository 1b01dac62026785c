using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;

namespace ParallelMap.Engine
{
    // The watchdog thread: per-item timeouts and due retries.
    public sealed partial class ParallelEngine<TIn, TOut>
    {
        private void WatchdogMain()
        {
            long timeoutTicks = _options.ItemTimeout is TimeSpan t ? (long)(t.TotalSeconds * Stopwatch.Frequency) : 0;
            int pollMs = _options.ItemTimeout is TimeSpan tt ? (int)Math.Max(5, Math.Min(50, tt.TotalMilliseconds / 10)) : 50;
            var slots = new List<WorkerSlot<TIn, TOut>>();
            while (Volatile.Read(ref _disposed) == 0)
            {
                _watchdogWake.Wait(pollMs);
                _watchdogWake.Reset();
                if (timeoutTicks > 0) CheckTimeouts(slots, timeoutTicks);
                ReleaseDueRetries();
                lock (_lock)
                {
                    if (_inputCompleted && _threads.Count == 0 && _delayed.Count == 0 && Volatile.Read(ref _disposed) != 0) return;
                }
            }
        }

        private void CheckTimeouts(List<WorkerSlot<TIn, TOut>> slots, long timeoutTicks)
        {
            slots.Clear();
            lock (_lock) slots.AddRange(_live);
            long now = Stopwatch.GetTimestamp();
            foreach (var slot in slots)
            {
                WorkEntry? current;
                int attempt;
                long start;
                List<WorkEntry>? rest = null;
                lock (slot.Sync)
                {
                    current = slot.Current;
                    attempt = slot.CurrentAttempt;
                    start = slot.CurrentStart;

                    // An ordered run's item waiting for its turn to stream is not running late.
                    long ranUntil = slot.TurnWaitSince != 0 ? slot.TurnWaitSince : now;
                    if (current is null || ranUntil - start < timeoutTicks || !TryClaim(current, attempt)) continue;

                    // Claimed: the worker is discarded. Its unstarted batch goes back to the queue.
                    slot.Aborted = true;
                    slot.Current = null;
                    if (slot.Local.Count > 0)
                    {
                        rest = new List<WorkEntry>(slot.Local);
                        slot.Local.Clear();
                    }
                }

                lock (_lock)
                {
                    _live.Remove(slot);
                    if (slot.Worker is Worker<TIn, TOut> broken) _broken.Enqueue(broken);
                    if (rest is not null) RequeueFirstLocked(rest);

                    if (_stopping) ReportUnstartedLocked(_input);
                    WakeOrSpawnLocked();
                    AssertInvariants();
                }

                AbortWorker(slot);
                var error = new TimeoutException(EngineText.Format(Messages.ItemTimedOut, _options.ItemTimeout));
                FailAttempt(null, current, ItemStatus.TimedOut, error, TimeSpan.FromSeconds((double)(now - start) / Stopwatch.Frequency), slot.Id, slot.Worker?.Site ?? 0);
            }
        }
    }
}
