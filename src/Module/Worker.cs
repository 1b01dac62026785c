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

        /// <summary>Emits a side record outside any item (during <see cref="Begin"/> or <see cref="End"/>).</summary>
        /// <param name="record">The record.</param>
        protected void EmitRecord(object record)
        {
            if (record is null) throw new ArgumentNullException(nameof(record));
            var slot = Slot;
            slot?.Core.PublishRecord(slot, new WorkerRecord<TIn>(-1, default!, 0, Id, record));
        }
    }

    /// <summary>
    /// What a worker sees of the item it is processing. One instance per worker, reused across
    /// items; valid only inside <see cref="Worker{TIn, TOut}.Process"/>.
    /// </summary>
    /// <typeparam name="TOut">The output type.</typeparam>
    public sealed class ItemContext<TOut>
    {
        private readonly IRecordPublisher _publisher;
        private TOut _single = default!;
        private List<TOut>? _many;
        private int _count;

        internal ItemContext(IRecordPublisher publisher) => _publisher = publisher;

        /// <summary>The item's sequence number.</summary>
        public long Sequence { get; private set; }

        /// <summary>The attempt, from 1.</summary>
        public int Attempt { get; private set; }

        /// <summary>The error set by <see cref="Fail"/>, if any.</summary>
        public Exception? FailedWith { get; private set; }

        /// <summary>
        /// A value the worker attaches to this attempt's outcome, computed on the worker's thread
        /// (for example its outputs serialized, so the caller's thread does not have to).
        /// </summary>
        public object? Attachment { get; set; }

        /// <summary>How many outputs this attempt produced so far.</summary>
        public int OutputCount => _count;

        /// <summary>Adds an output of this item.</summary>
        /// <param name="value">The output.</param>
        public void Output(TOut value)
        {
            if (_count == 0)
            {
                _single = value;
            }
            else
            {
                if (_many is null)
                {
                    _many = new List<TOut>(4) { _single };
                }

                _many.Add(value);
            }

            _count++;
        }

        /// <summary>Emits a side record now; the caller gets it before this item's outcome.</summary>
        /// <param name="record">The record.</param>
        public void Record(object record)
        {
            if (record is null) throw new ArgumentNullException(nameof(record));
            _publisher.PublishItemRecord(record);
        }

        /// <summary>Marks the attempt failed without throwing; processing may go on (like a non-terminating error).</summary>
        /// <param name="error">The error; the first one is kept.</param>
        public void Fail(Exception error)
        {
            if (error is null) throw new ArgumentNullException(nameof(error));
            FailedWith ??= error;
        }

        internal void Reset(long sequence, int attempt)
        {
            Sequence = sequence;
            Attempt = attempt;
            FailedWith = null;
            Attachment = null;
            _single = default!;
            _many = null;
            _count = 0;
        }

        internal IReadOnlyList<TOut> TakeOutputs()
        {
            IReadOnlyList<TOut> result = _count switch
            {
                0 => Array.Empty<TOut>(),
                1 => new[] { _single },
                _ => _many!,
            };
            _single = default!;
            _many = null;
            _count = 0;
            return result;
        }
    }

    /// <summary>What an item context needs to publish a side record for the current item.</summary>
    internal interface IRecordPublisher
    {
        void PublishItemRecord(object record);
    }

    /// <summary>
    /// The item loop of one worker. <see cref="Run"/> takes items from the engine and processes
    /// them until the input is exhausted, the worker is aborted or the run stops.
    /// </summary>
    public abstract class WorkLoop
    {
        private int _ran;

        internal bool HasRun => Volatile.Read(ref _ran) != 0;

        /// <summary>Runs the loop on the calling thread; returns when there is no more work for this worker.</summary>
        public void Run()
        {
            if (Interlocked.Exchange(ref _ran, 1) != 0) throw new InvalidOperationException(Messages.LoopAlreadyRun);
            RunCore();
        }

        private protected abstract void RunCore();
    }
}
