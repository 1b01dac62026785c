using System;
using System.Collections.Generic;
using System.Threading;

namespace ParallelMap.Engine
{
    /// <summary>
    /// One unit of parallelism (one runspace, in the module). The engine calls, on the worker's own
    /// thread: <see cref="Begin"/> once, then <see cref="Execute"/> once, which runs the work loop
    /// that calls <see cref="Process"/> per item, then <see cref="End"/> once, also after failures,
    /// timeouts and stops. <see cref="Abort"/> may come from any thread at any time.
    /// </summary>
    /// <typeparam name="TIn">The input type.</typeparam>
    /// <typeparam name="TOut">The output type.</typeparam>
    public abstract class Worker<TIn, TOut>
    {
        internal WorkerSlot<TIn, TOut>? Slot;

        /// <summary>The worker's number, from 1, unique within a run.</summary>
        public int Id { get; internal set; }

        /// <summary>
        /// Where the worker runs, when workers run in several places (a remote host each): an item
        /// whose attempt failed at one site is retried at another if one has a worker, as GNU
        /// parallel's --retries does (a host that fails an item tends to fail it again). 0, the
        /// default, is no site: such workers never avoid an item.
        /// </summary>
        public int Site { get; protected set; }

        /// <summary>Cancelled when this worker is aborted (timeout or stop); it is discarded afterwards.</summary>
        public CancellationToken AbortToken => Slot?.AbortSource.Token ?? CancellationToken.None;

        /// <summary>The per-worker initialization. An exception here stops the run (<see cref="StopReason.WorkerFaulted"/>).</summary>
        protected virtual void Begin()
        {
        }

        /// <summary>
        /// Runs <paramref name="loop"/>. The default runs it directly; a worker that must process
        /// items inside another execution context (a runspace's pipeline) overrides this and calls
        /// <see cref="WorkLoop.Run"/> from within that context, on this thread or one this thread waits for.
        /// </summary>
        /// <param name="loop">The loop to run exactly once.</param>
        protected virtual void Execute(WorkLoop loop) => loop.Run();

        /// <summary>Processes one item. Throwing, or calling <see cref="ItemContext{TOut}.Fail"/>, fails the attempt.</summary>
        /// <param name="input">The item.</param>
        /// <param name="context">Where outputs and side records go; valid during this call only.</param>
        protected abstract void Process(TIn input, ItemContext<TOut> context);

        /// <summary>The per-worker cleanup: runs once after the loop, whatever ended it.</summary>
        protected virtual void End()
        {
        }

        /// <summary>
        /// Interrupts whatever the worker is doing (called from another thread on a timeout or a stop).
        /// Must not block and must tolerate being called at any moment, even twice. The default does
        /// nothing beyond cancelling <see cref="AbortToken"/>.
        /// </summary>
        public virtual void Abort()
        {
        }

        // The engine's entry points: the overridable members stay protected so that an assembly
        // that sees this one's internals can still override them.
        internal void InvokeBegin() => Begin();

        internal void InvokeExecute(WorkLoop loop) => Execute(loop);

        internal void InvokeProcess(TIn input, ItemContext<TOut> context) => Process(input, context);

        internal void InvokeEnd() => End();

        /// <summary>
        /// Copies the items this worker will be handed next, in the order it will get them (the rest
        /// of the batch it took), so that a worker whose items travel to another process can send
        /// them ahead and keep that process busy instead of paying a round trip per item. Only
        /// callable from <see cref="Process"/>. The list is a promise only while the worker is not
        /// aborted: a timeout or a stop gives those items back to the queue (or reports them), and
        /// the worker is then discarded.
        /// </summary>
        /// <param name="into">Receives (sequence, input) pairs; cleared first.</param>
        /// <param name="max">The most items to copy.</param>
        protected void PeekUpcoming(List<KeyValuePair<long, TIn>> into, int max)
        {
            if (into is null) throw new ArgumentNullException(nameof(into));
            into.Clear();
            var slot = Slot;
            if (slot is null || max <= 0) return;
            lock (slot.Sync)
            {
                if (slot.Aborted) return;
                foreach (var e in slot.Local)
                {
                    if (into.Count >= max) break;
                    into.Add(new KeyValuePair<long, TIn>(e.Sequence, e.Input));
                }
            }
        }

        /// <summary>
        /// Moves up to <paramref name="max"/> more queued items to the end of this worker's batch
        /// (at most what automatic batching would hand it now), and returns how many it moved; 0
        /// when none is queued, the run is stopping, or the worker is aborted. Only callable from
        /// <see cref="Process"/>, and only while the batch is otherwise used up: a worker whose items
        /// travel to another process sends the next batch while that process still runs the last
        /// item of this one, so the process never waits a round trip for work (see
        /// <see cref="PeekUpcoming"/>, which then lists the items moved).
        /// </summary>
        /// <param name="max">The most items to move.</param>
        /// <returns>The number of items moved.</returns>
        protected int TakeMore(int max)
        {
            var slot = Slot;
            if (slot is null || max <= 0) return 0;
            return slot.Core.ExtendBatch(slot, max);
        }

        /// <summary>Emits a side record outside any item (during <see cref="Begin"/> or <see cref="End"/>).</summary>
        /// <param name="record">The record.</param>
        protected void EmitRecord(object record)
        {
            if (record is null) throw new ArgumentNullException(nameof(record));
            var slot = Slot;
            slot?.Core.PublishRecord(slot, new WorkerRecord<TIn>(-1, default!, 0, Id, record));
        }
    }
}
