using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;

namespace ParallelMap.Engine
{
    // Queueing: waking or starting workers for queued items, and handing a worker its next batch.
    public sealed partial class ParallelEngine<TIn, TOut>
    {
        /// <summary>After work was queued: wake a parked worker, or start one if the throttle allows.</summary>
        private void WakeOrSpawnLocked()
        {
            Debug.Assert(Monitor.IsEntered(_lock));
            if (_stopping || _input.Count == 0) return;
            if (_workerWait.HasSleepers)
            {
                if (!DeferWakeLocked()) _workerWait.WakeOne(_lock);
                return;
            }

            // Only workers still starting will come for this item; start another while the queue
            // holds more items than those, so a short input never opens more workers than items.
            if (_live.Count < PlacesLocked && _input.Count > _workersBeginning && Volatile.Read(ref _disposed) == 0)
            {
                SpawnLocked();
            }
        }

        /// <summary>
        /// True when waking a parked worker for queued items would cost more than it saves: items
        /// take a few microseconds, a worker is busy and will be back for them sooner than a parked
        /// thread wakes (a kernel call each time), and the queue is not filling up. The caller wakes
        /// everyone before it sleeps, and <see cref="Complete"/> does too, so nothing waits on this.
        /// </summary>
        private bool DeferWakeLocked()
        {
            int busy = _live.Count - _workersBeginning - _workerWait.Waiting;
            return busy > 0 && _sizer.AverageTicks < _fastItemTicks && _input.Count < Math.Max(2, _options.InputCapacity / 2);
        }

        /// <summary>
        /// Puts entries back at the head of the queue, in their order (lock held): items taken
        /// from it that did not run (a batch's rest after a timeout, a lost or exited worker's)
        /// run next rather than after everything queued since. At the tail, a remote worker's
        /// items lost with their host waited for the whole rest of the input (27 s in
        /// bench/Remote.ps1), and in an ordered run held up every later output meanwhile.
        /// Rare, so the copy of the queue costs nothing that matters.
        /// </summary>
        private void RequeueFirstLocked(IEnumerable<WorkEntry> entries)
        {
            Debug.Assert(Monitor.IsEntered(_lock));
            WorkEntry[] queued = _input.ToArray();
            _input.Clear();
            foreach (var e in entries) _input.Enqueue(e);
            foreach (var e in queued) _input.Enqueue(e);
        }

        private void SpawnLocked()
        {
            int id = ++_nextWorkerId;
            var slot = new WorkerSlot<TIn, TOut>(this, id);
            _live.Add(slot);
            _threads.Add(slot);
            _workersBeginning++;
            if (_broken.Count > 0) slot.Replaces = _broken.Dequeue();
            var thread = new Thread(() => WorkerMain(slot), _options.WorkerStackSize)
            {
                IsBackground = true,
                Name = _options.ThreadNamePrefix + " " + id.ToString(System.Globalization.CultureInfo.InvariantCulture),
            };
            slot.Thread = thread;

            // Starting a thread under the lock costs tens of microseconds, once per worker; it keeps
            // the slot lists and the thread's existence consistent for Stop and Dispose.
            thread.Start();
            AssertInvariants();
        }

        private int TakeCountLocked()
        {
            int queued = _input.Count;
            if (_options.BatchSize > 0) return Math.Min(_options.BatchSize, queued);

            // Never take more than an even share of what is queued, so that near the end of the
            // input no worker holds a long batch while another idles.
            int share = Math.Max(1, queued / Math.Max(1, _live.Count));
            int take = Math.Min(queued, Math.Min(_sizer.Current, share));

            // In order, a batch's outcomes wait in the reorder window behind every earlier batch:
            // keep all batches in flight within a quarter of the window so it never fills on them.
            if (_window is not null) take = Math.Min(take, Math.Max(1, _reorderWindow / (4 * _options.ThrottleLimit)));
            return take;
        }

        /// <summary>Next item for a worker: from its batch, else a new batch (publishing its buffered outcomes first).</summary>
        private WorkEntry? TakeNext(WorkerSlot<TIn, TOut> slot)
        {
            lock (slot.Sync)
            {
                if (slot.Aborted) return null;
                if (slot.Local.Count > 0) return StartLocked(slot, slot.Local.Dequeue());
            }

            Monitor.Enter(_lock);
            try
            {
                while (true)
                {
                    if (!AppendPendingLocked(slot, mayWait: true)) continue;
                    if (_stopping) return null;
                    if (_input.Count > 0)
                    {
                        int n = TakeCountLocked();
                        WorkEntry? first = TakeFirstForSiteLocked(slot);
                        if (first is null)
                        {
                            // Only retries left to workers of other sites are queued: let those
                            // workers have them, and look again soon (their window closes).
                            _workerWait.WakeAll(_lock);
                            _workerWait.ParkLocked(_lock, SiteWaitMilliseconds);
                            continue;
                        }

                        n = Math.Min(n, _input.Count + 1);
                        lock (slot.Sync)
                        {
                            if (slot.Aborted)
                            {
                                // Timed out between the checks: the batch stays in the queue.
                                RequeueFirstLocked(new[] { first });
                                return null;
                            }

                            FillBatchLocked(slot, n - 1);
                            _callerWait.WakeOne(_lock);
                            if (_input.Count > 0 && !DeferWakeLocked()) _workerWait.WakeOne(_lock);
                            AssertInvariants();
                            return StartLocked(slot, first);
                        }
                    }

                    if (_inputCompleted && _delayed.Count == 0) return null;
                    _workerWait.ParkLocked(_lock, Timeout.Infinite);
                }
            }
            finally
            {
                Monitor.Exit(_lock);
            }
        }

        /// <summary>
        /// <see cref="Worker{TIn, TOut}.TakeMore"/>: up to <paramref name="max"/> more queued items
        /// into the slot's batch, once its batch is used up (the worker runs its last item), so at
        /// most two batches are ever handed to one worker and the reorder window's quarter rule of
        /// <see cref="TakeCountLocked"/> holds per batch. Returns how many it took.
        /// </summary>
        internal int ExtendBatch(WorkerSlot<TIn, TOut> slot, int max)
        {
            Monitor.Enter(_lock);
            try
            {
                if (_stopping || _input.Count == 0) return 0;
                int n = Math.Min(max, TakeCountLocked());
                lock (slot.Sync)
                {
                    if (slot.Aborted || slot.Local.Count > 0) return 0;
                    FillBatchLocked(slot, n);
                    int taken = slot.Local.Count;
                    if (taken > 0) _callerWait.WakeOne(_lock);
                    AssertInvariants();
                    return taken;
                }
            }
            finally
            {
                Monitor.Exit(_lock);
            }
        }

        /// <summary>How long a worker that left every queued item to other sites waits before it looks again.</summary>
        private const int SiteWaitMilliseconds = 50;

        /// <summary>
        /// The queue's first item this worker should take (lock held): an item whose last attempt
        /// failed at this worker's site is left, within its window, to the workers of another
        /// site while one is live. Null when only such items are queued. Items passed over go
        /// back to the head in their order; this is rare (retries only) and short.
        /// </summary>
        private WorkEntry? TakeFirstForSiteLocked(WorkerSlot<TIn, TOut> slot)
        {
            Debug.Assert(Monitor.IsEntered(_lock));
            List<WorkEntry>? passed = null;
            WorkEntry? pick = DequeueForSiteLocked(slot.Worker?.Site ?? 0, ref passed);
            if (passed is not null) RequeueFirstLocked(passed);
            return pick;
        }

        /// <summary>Takes up to <paramref name="count"/> more queued items into the slot's batch (both locks held), passing over those left to other sites.</summary>
        private void FillBatchLocked(WorkerSlot<TIn, TOut> slot, int count)
        {
            int site = slot.Worker?.Site ?? 0;
            List<WorkEntry>? passed = null;
            for (; count > 0; count--)
            {
                WorkEntry? next = DequeueForSiteLocked(site, ref passed);
                if (next is null) break;
                slot.Local.Enqueue(next);
            }

            if (passed is not null) RequeueFirstLocked(passed);
        }

        /// <summary>
        /// The next queued item a worker of <paramref name="site"/> may take, or null when none is
        /// left (lock held). Items it passes over are added to <paramref name="passed"/>, made only
        /// then, for the caller to put back at the head: a worker without a site takes the head.
        /// </summary>
        private WorkEntry? DequeueForSiteLocked(int site, ref List<WorkEntry>? passed)
        {
            while (_input.Count > 0)
            {
                WorkEntry e = _input.Dequeue();
                if (site == 0 || e.AvoidSite != site) return e;

                // Workers start only as the queue outgrows them, so a fast worker of this site
                // may be the only one: then start another where the throttle allows (the source
                // places it where fewest run: another host) and leave the retry to it.
                bool leave = LeavesToOtherSiteLocked(e, site) || (StartWorkerForRetryLocked() && LeavesToOtherSiteLocked(e, site));
                if (!leave) return e;
                (passed ??= new List<WorkEntry>()).Add(e);
            }

            return null;
        }

        /// <summary>Starts one more worker if the throttle has a free place (lock held); true if it did.</summary>
        private bool StartWorkerForRetryLocked()
        {
            if (_stopping || _live.Count >= PlacesLocked || Volatile.Read(ref _disposed) != 0) return false;
            SpawnLocked();
            return true;
        }

        /// <summary>
        /// Whether a worker of <paramref name="site"/> leaves <paramref name="e"/> to another site's
        /// worker (lock held): while one is busy, within the window; while one is still opening (a
        /// remote connection takes seconds; it will come, or its host is lost and its place goes),
        /// for up to <see cref="AvoidSiteOpeningWindow"/>, so a host that never answers holds no retry for long.
        /// </summary>
        private bool LeavesToOtherSiteLocked(WorkEntry e, int site)
        {
            if (e.AvoidSite != site) return false;
            long now = _clock.ElapsedTicks;
            bool busyElsewhere = false;
            bool opening = now < e.DueTicks + (long)(AvoidSiteOpeningWindow.TotalSeconds * Stopwatch.Frequency);
            foreach (WorkerSlot<TIn, TOut> other in _live)
            {
                if (other.Aborted) continue;

                // A slot whose thread has not made its worker yet (the source is asked on that
                // thread, outside the lock) is of a site not known yet: it may be another.
                Worker<TIn, TOut>? w = other.Worker;
                if (w is null)
                {
                    if (other.Beginning && opening) return true;
                    continue;
                }

                if (w.Site == 0 || w.Site == site) continue;
                if (other.Beginning && opening) return true;
                busyElsewhere = true;
            }

            return busyElsewhere && now < e.AvoidUntilTicks;
        }

        /// <summary>Marks an item running on a slot (slot lock held).</summary>
        private WorkEntry StartLocked(WorkerSlot<TIn, TOut> slot, WorkEntry e)
        {
            e.Attempts++;
            Volatile.Write(ref e.Token, (e.Attempts * 4) + RunningState);
            slot.Current = e;
            slot.CurrentAttempt = e.Attempts;
            slot.CurrentStart = Stopwatch.GetTimestamp();
            return e;
        }

        private static bool TryClaim(WorkEntry e, int attempt) =>
            Interlocked.CompareExchange(ref e.Token, (attempt * 4) + ClaimedState, (attempt * 4) + RunningState) == (attempt * 4) + RunningState;
    }
}
