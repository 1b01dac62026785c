using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;

namespace ParallelMap.Engine
{
    // Workers whose place is gone (WorkerLostException, a remote host that died): their items go
    // back to the queue for the others, and the pool shrinks by the places that cannot be filled.
    public sealed partial class ParallelEngine<TIn, TOut>
    {
        /// <summary>An item is put back this many times at most; then its loss is its failure (it may be what kills its worker).</summary>
        private const int MaxLossesPerItem = 3;

        /// <summary>Places of the pool lost for good (lock): the throttle is the limit less these.</summary>
        private int _lostPlaces;

        /// <summary>How many workers may be live now (lock).</summary>
        private int PlacesLocked => _options.ThrottleLimit - _lostPlaces;

        /// <summary>
        /// The worker of <paramref name="e"/> was lost under it (worker thread; claim not yet taken).
        /// The item and the rest of the batch go back to the queue, unless the item already passed
        /// outputs on (a rerun would pass them twice) or lost too many workers: then it fails, and
        /// is retried when the retries allow, as any failure.
        /// </summary>
        private void ItemLost(WorkerSlot<TIn, TOut> slot, WorkEntry e, int attempt, WorkerLostException lost, long ticks)
        {
            bool claimed;
            List<WorkEntry>? rest = null;
            lock (slot.Sync)
            {
                slot.Current = null;
                slot.Lost = lost;
                slot.Aborted = true;
                claimed = TryClaim(e, attempt);
                if (slot.Local.Count > 0)
                {
                    rest = new List<WorkEntry>(slot.Local);
                    slot.Local.Clear();
                }
            }

            if (claimed && (e.OutputsStreamed || e.Losses + 1 >= MaxLossesPerItem))
            {
                Exception error = e.OutputsStreamed ? lost : new WorkerLostException(EngineText.Format(Messages.ItemLostTooOften, e.Losses + 1, lost.Message), lost.PlaceLost, lost);
                FailAttempt(slot, e, ItemStatus.Failed, error, TimeSpan.FromSeconds((double)ticks / Stopwatch.Frequency), slot.Id, slot.Worker?.Site ?? 0);
                claimed = false;
            }
            else if (claimed)
            {
                e.Losses++;
            }

            lock (_lock)
            {
                var back = new List<WorkEntry>();
                if (claimed) back.Add(e);
                if (rest is not null) back.AddRange(rest);
                RequeueFirstLocked(back);

                if (_stopping) ReportUnstartedLocked(_input);
                WakeOrSpawnLocked();
                AssertInvariants();
            }
        }

        /// <summary>
        /// Counts the place of a lost worker as it exits (lock held), when the worker says no new
        /// one can take it. Returns true when no place is left while work remains: the caller
        /// then faults the run.
        /// </summary>
        private bool PlaceGoneLocked(WorkerLostException lost)
        {
            Debug.Assert(Monitor.IsEntered(_lock));
            if (lost.PlaceLost) _lostPlaces++;
            bool workLeft = _input.Count > 0 || _delayed.Count > 0 || !_inputCompleted;
            return PlacesLocked <= 0 && _live.Count == 0 && workLeft && !_stopping;
        }
    }
}
