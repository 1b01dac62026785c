using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;

namespace ParallelMap.Engine
{
    // A worker's finished outcomes and side records on their way into the outbox.
    public sealed partial class ParallelEngine<TIn, TOut>
    {
        /// <summary>Buffers an outcome on the worker; publishes now if the caller waits or enough piled up.</summary>
        private void Finish(WorkerSlot<TIn, TOut> slot, ItemOutcome<TIn, TOut> outcome)
        {
            int count;
            lock (slot.Sync)
            {
                if (slot.Pending.Count == 0) slot.PendingSince = Stopwatch.GetTimestamp();
                slot.Pending.Add(outcome);
                count = slot.Pending.Count;
            }

            // A failure goes out at once: under ErrorPolicy.Stop it must reach the caller before
            // the not-run outcomes that the stop it causes will publish.
            if (outcome.Status != ItemStatus.Succeeded || ShouldPublish(slot, count, Stopwatch.GetTimestamp()))
            {
                FlushPending(slot, mayWait: true);
            }
        }

        /// <summary>
        /// Whether a worker publishes its buffered outcomes now rather than at its next batch: the
        /// caller or an ordered run's big item waiting for its turn (<see cref="MayStream"/>) is
        /// waiting, enough piled up, the oldest has waited a millisecond, or the run stops.
        /// </summary>
        private bool ShouldPublish(WorkerSlot<TIn, TOut> slot, int buffered, long now) =>
            _callerWait.HasSleepers || _turnWait.HasSleepers || buffered >= WorkerFlushCount || now - slot.PendingSince >= _flushTicks || IsStoppingRacy;

        private void FlushPending(WorkerSlot<TIn, TOut> slot, bool mayWait)
        {
            Monitor.Enter(_lock);
            try
            {
                while (!AppendPendingLocked(slot, mayWait))
                {
                }
            }
            finally
            {
                Monitor.Exit(_lock);
            }
        }

        /// <summary>
        /// Moves a worker's buffered outcomes to the outbox (lock held). When the outbox is full and
        /// waiting is allowed, waits once for room (releasing the lock) and returns false: the
        /// caller re-checks its state and calls again.
        /// </summary>
        private bool AppendPendingLocked(WorkerSlot<TIn, TOut> slot, bool mayWait)
        {
            Debug.Assert(Monitor.IsEntered(_lock));
            lock (slot.Sync)
            {
                if (slot.Pending.Count == 0) return true;
            }

            if (mayWait && _outbox.Count >= _options.OutcomeCapacity && !_stopping && Volatile.Read(ref _disposed) == 0)
            {
                WaitForRoomLocked();
                return false;
            }

            lock (slot.Sync) MovePendingLocked(slot);
            _callerWait.WakeOne(_lock);
            return true;
        }

        /// <summary>Moves every worker's buffered outcomes to the outbox (lock held).</summary>
        private void CollectPendingLocked()
        {
            foreach (var slot in _threads)
            {
                lock (slot.Sync) MovePendingLocked(slot);
            }
        }

        /// <summary>Moves one worker's buffered outcomes to the outbox (engine lock and slot lock held).</summary>
        private void MovePendingLocked(WorkerSlot<TIn, TOut> slot)
        {
            foreach (object o in slot.Pending) AddToOutboxLocked(o);
            slot.Pending.Clear();
        }

        private void WaitForRoomLocked()
        {
            _callerWait.WakeOne(_lock);
            _roomWait.ParkLocked(_lock, Timeout.Infinite);
        }

        /// <summary>Publishes a side record now, after the worker's buffered outcomes (so order holds).</summary>
        internal void PublishRecord(WorkerSlot<TIn, TOut> slot, WorkerRecord<TIn> record, bool mayWait = true)
        {
            if (Volatile.Read(ref _disposed) != 0) return;
            Monitor.Enter(_lock);
            try
            {
                while (!AppendPendingLocked(slot, mayWait))
                {
                }

                bool streamed = record.Record is ItemOutputs<TOut>;
                while (mayWait && (_outbox.Count >= _options.OutcomeCapacity || (streamed && _outboxStreamed >= StreamedCapacity)) && !_stopping && Volatile.Read(ref _disposed) == 0)
                {
                    WaitForRoomLocked();
                    while (!AppendPendingLocked(slot, mayWait))
                    {
                    }
                }

                AddToOutboxLocked(record);
                _callerWait.WakeOne(_lock);
                AssertInvariants();
            }
            finally
            {
                Monitor.Exit(_lock);
            }
        }

        private ItemOutcome<TIn, TOut> MakeOutcome(WorkEntry e, ItemStatus status, Exception? error, IReadOnlyList<TOut> outputs, TimeSpan duration, int workerId, object? attachment = null)
        {
            IReadOnlyList<Exception> previous = e.PreviousErrors is null ? Array.Empty<Exception>() : e.PreviousErrors.ToArray();
            return new ItemOutcome<TIn, TOut>(e.Sequence, e.Input, outputs, status, error, e.Attempts, duration, workerId, previous, attachment);
        }
    }
}
