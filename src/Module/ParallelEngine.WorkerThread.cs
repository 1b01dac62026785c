using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;

namespace ParallelMap.Engine
{
    // The life of one worker thread: begin, the item loop, end, exit.
    public sealed partial class ParallelEngine<TIn, TOut>
    {
        private void WorkerMain(WorkerSlot<TIn, TOut> slot)
        {
            Worker<TIn, TOut>? worker = null;
            bool begun = false;
            bool beginAttempted = false;
            bool countedBeginning = true;
            try
            {
                Worker<TIn, TOut>? broken = slot.Replaces;
                slot.Replaces = null;
                worker = (broken is null ? _source.Create(slot.Id) : _source.Replace(broken, slot.Id)) ?? throw new InvalidOperationException(EngineText.Format(Messages.WorkerFactoryReturnedNull, slot.Id));
                worker.Id = slot.Id;
                worker.Slot = slot;
                slot.Worker = worker;
                if (slot.Aborted)
                {
                    return;
                }

                bool admitted = EnterBegin(slot);
                try
                {
                    if (slot.Aborted) return;
                    beginAttempted = true;
                    worker.InvokeBegin();
                    begun = true;
                }
                finally
                {
                    if (admitted) _beginGate!.Exit();
                }

                var loop = new SlotLoop(this, slot);
                lock (_lock)
                {
                    _workersBeginning--;
                    countedBeginning = false;
                    slot.Beginning = false;
                }

                worker.InvokeExecute(loop);
                if (!loop.HasRun && !slot.Aborted && !IsStoppingRacy)
                {
                    FaultCore(new WorkerFaultedException(slot.Id, false, new InvalidOperationException(EngineText.Format(Messages.WorkerLoopNotRun, slot.Id))));
                }
            }
            catch (WorkerLostException lost)
            {
                // Not a fault: the worker is lost (WorkerExited counts its place when it is gone for good).
                slot.Lost = lost;
            }
            catch (Exception ex)
            {
                if (!slot.Aborted && !IsStoppingRacy)
                {
                    FaultCore(new WorkerFaultedException(slot.Id, !begun, ex));
                }
            }
            finally
            {
                // Back from begin or the item loop, whatever stopped it: from here a shutdown waits
                // for this worker's end in full, even if it was abandoned as stuck a moment ago.
                slot.Ending = true;
                FlushPending(slot, mayWait: false);
                try
                {
                    if (beginAttempted) worker!.InvokeEnd();
                }
                catch (Exception ex)
                {
                    // The end is the cleanup: its failure is reported, never fatal to the run.
                    PublishRecord(slot, new WorkerRecord<TIn>(-1, default!, 0, slot.Id, ex), mayWait: false);
                }

                WorkerExited(slot, countedBeginning);
            }
        }

        private bool IsStoppingRacy => Volatile.Read(ref _stopping);

        /// <summary>Waits for a begin slot (see <see cref="EngineOptions.BeginConcurrency"/>); gives up if the worker is aborted meanwhile.</summary>
        private bool EnterBegin(WorkerSlot<TIn, TOut> slot)
        {
            if (_beginGate is null) return false;
            while (!slot.Aborted && !IsStoppingRacy)
            {
                if (_beginGate.TryEnter(50)) return true;
            }

            return false;
        }

        private void WorkerExited(WorkerSlot<TIn, TOut> slot, bool stillBeginning)
        {
            bool allLost = false;
            List<WorkEntry>? orphans = null;
            lock (slot.Sync)
            {
                slot.Aborted = true;
                if (slot.Local.Count > 0)
                {
                    orphans = new List<WorkEntry>(slot.Local);
                    slot.Local.Clear();
                }
            }

            lock (_lock)
            {
                if (stillBeginning) _workersBeginning--;
                _live.Remove(slot);
                _threads.Remove(slot);
                if (orphans is not null) RequeueFirstLocked(orphans);

                if (_stopping && orphans is not null)
                {
                    ReportUnstartedLocked(_input);
                }

                if (slot.Lost is WorkerLostException lost) allLost = PlaceGoneLocked(lost);

                // Work may remain that only this worker would have taken (it timed out, say).
                WakeOrSpawnLocked();
                _callerWait.WakeAll(_lock);
                AssertInvariants();
            }

            if (allLost) FaultCore(new AllWorkersLostException(slot.Lost!));
        }

        private void RunItems(WorkerSlot<TIn, TOut> slot)
        {
            Worker<TIn, TOut> worker = slot.Worker!;
            ItemContext<TOut> context = slot.Context;
            WorkEntry? e = TakeNext(slot);
            while (e is not null)
            {
                int attempt = e.Attempts;
                context.Reset(e.Sequence, attempt);
                long t0 = slot.CurrentStart;
                Exception? error = null;
                try
                {
                    worker.InvokeProcess(e.Input, context);
                }
                catch (Exception ex)
                {
                    error = ex;
                }

                long ticks = Stopwatch.GetTimestamp() - t0;
                error ??= context.FailedWith;
                if (error is WorkerLostException lost)
                {
                    ItemLost(slot, e, attempt, lost, ticks);
                    return;
                }

                IReadOnlyList<TOut> outputs = context.TakeOutputs();
                WorkEntry? next = null;
                bool claimed;
                bool flush = false;

                // Finishing this item and starting the next share one acquisition of the slot lock:
                // for small items that lock is most of the engine's per-item cost.
                lock (slot.Sync)
                {
                    slot.Current = null;
                    claimed = TryClaim(e, attempt);
                    if (claimed && error is null)
                    {
                        if (slot.Pending.Count == 0) slot.PendingSince = t0 + ticks;
                        slot.Pending.Add(MakeOutcome(e, ItemStatus.Succeeded, null, outputs, TimeSpan.FromSeconds((double)ticks / Stopwatch.Frequency), slot.Id, context.Attachment));
                        flush = ShouldPublish(slot, slot.Pending.Count, t0 + ticks);
                    }

                    if (!flush && claimed && error is null && !slot.Aborted && slot.Local.Count > 0)
                    {
                        next = StartLocked(slot, slot.Local.Dequeue());
                    }
                }

                if (claimed)
                {
                    _sizer.Observe(ticks);
                    if (error is not null) FailAttempt(slot, e, ItemStatus.Failed, error, TimeSpan.FromSeconds((double)ticks / Stopwatch.Frequency), slot.Id, slot.Worker?.Site ?? 0);
                }

                if (flush) FlushPending(slot, mayWait: true);
                if (slot.Aborted) return;
                e = next ?? TakeNext(slot);
            }
        }
    }
}
