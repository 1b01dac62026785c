using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;

namespace ParallelMap.Engine
{
    // Failed attempts: scheduling a retry after its backoff, and releasing retries that are due.
    public sealed partial class ParallelEngine<TIn, TOut>
    {
        /// <summary>How long a retry waits for a worker of another site before any worker may take it.</summary>
        private static readonly TimeSpan AvoidSiteWindow = TimeSpan.FromSeconds(2);

        /// <summary>How long a retry waits for a worker of another site that is still opening.</summary>
        private static readonly TimeSpan AvoidSiteOpeningWindow = TimeSpan.FromSeconds(30);

        /// <summary>
        /// A failed or timed-out attempt: schedule a retry, or report it final (claim held). The
        /// retry remembers <paramref name="site"/>, the site of the worker the attempt ran on
        /// (<see cref="Worker{TIn, TOut}.Site"/>), so that it prefers another.
        /// </summary>
        private void FailAttempt(WorkerSlot<TIn, TOut>? slot, WorkEntry e, ItemStatus status, Exception error, TimeSpan duration, int workerId, int site)
        {
            // An attempt that already passed outputs on is final: a retry would pass them on twice.
            bool retryable = (status == ItemStatus.Failed || _options.RetryTimedOut) && !e.OutputsStreamed;
            if (retryable && e.Attempts - e.Losses <= _options.MaxRetries)
            {
                (e.PreviousErrors ??= new List<Exception>()).Add(error);
                e.DueTicks = _clock.ElapsedTicks + (long)(_backoff.Delay(e.Attempts).TotalSeconds * Stopwatch.Frequency);
                e.AvoidSite = site;
                e.AvoidUntilTicks = e.DueTicks + (long)(AvoidSiteWindow.TotalSeconds * Stopwatch.Frequency);
                bool scheduled = false;
                lock (_lock)
                {
                    if (!_stopping)
                    {
                        _delayed.Add(e);
                        scheduled = true;
                    }

                    AssertInvariants();
                }

                if (scheduled)
                {
                    Interlocked.Increment(ref _retries);
                    _watchdogWake.Set();
                    return;
                }
            }

            var outcome = MakeOutcome(e, status, error, Array.Empty<TOut>(), duration, workerId);
            if (slot is not null)
            {
                Finish(slot, outcome);
            }
            else
            {
                lock (_lock)
                {
                    AddToOutboxLocked(outcome);
                    _callerWait.WakeOne(_lock);
                }
            }

            if (_options.ErrorPolicy == ErrorPolicy.Stop) StopCore(StopReason.ItemFailed);
        }

        private void ReleaseDueRetries()
        {
            lock (_lock)
            {
                if (_delayed.Count == 0) return;
                long now = _clock.ElapsedTicks;
                for (int i = _delayed.Count - 1; i >= 0; i--)
                {
                    if (_delayed[i].DueTicks <= now)
                    {
                        _input.Enqueue(_delayed[i]);
                        _delayed.RemoveAt(i);
                    }
                }

                WakeOrSpawnLocked();
                if (_inputCompleted && _delayed.Count == 0) _workerWait.WakeAll(_lock);
                AssertInvariants();
            }
        }
    }
}
