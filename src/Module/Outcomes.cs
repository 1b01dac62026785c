using System;
using System.Collections.Generic;

namespace ParallelMap.Engine
{
    /// <summary>How an item ended.</summary>
    public enum ItemStatus
    {
        /// <summary>The last attempt returned without failing.</summary>
        Succeeded = 0,

        /// <summary>The last attempt threw or marked the item failed.</summary>
        Failed = 1,

        /// <summary>The last attempt ran longer than the item timeout; its worker was aborted.</summary>
        TimedOut = 2,

        /// <summary>The item was running when the run was stopped.</summary>
        Cancelled = 3,

        /// <summary>The item never started because the run was stopped first.</summary>
        NotRun = 4,
    }

    /// <summary>Why a run stopped early.</summary>
    public enum StopReason
    {
        /// <summary>The run has not been stopped.</summary>
        None = 0,

        /// <summary><see cref="ParallelEngine{TIn, TOut}.Stop"/> was called or the cancellation token fired.</summary>
        Requested = 1,

        /// <summary>An item failed for good under <see cref="ErrorPolicy.Stop"/>.</summary>
        ItemFailed = 2,

        /// <summary>A worker could not start or broke outside any item.</summary>
        WorkerFaulted = 3,
    }

    /// <summary>The final word on one submitted item: exactly one per item, whatever happens.</summary>
    /// <typeparam name="TIn">The input type.</typeparam>
    /// <typeparam name="TOut">The output type.</typeparam>
    public sealed class ItemOutcome<TIn, TOut>
    {
        internal ItemOutcome(long sequence, TIn input, IReadOnlyList<TOut> outputs, ItemStatus status, Exception? error, int attempts, TimeSpan duration, int workerId, IReadOnlyList<Exception> previousErrors, object? attachment = null)
        {
            Attachment = attachment;
            Sequence = sequence;
            Input = input;
            Outputs = outputs;
            Status = status;
            Error = error;
            Attempts = attempts;
            Duration = duration;
            WorkerId = workerId;
            PreviousErrors = previousErrors;
        }

        /// <summary>The item's position in the input, from 0.</summary>
        public long Sequence { get; }

        /// <summary>The submitted item.</summary>
        public TIn Input { get; }

        /// <summary>The outputs of the last attempt (a failed attempt that was retried leaks none).</summary>
        public IReadOnlyList<TOut> Outputs { get; }

        /// <summary>How the item ended.</summary>
        public ItemStatus Status { get; }

        /// <summary>The error of the last attempt, for any status but <see cref="ItemStatus.Succeeded"/>.</summary>
        public Exception? Error { get; }

        /// <summary>How many attempts started (0 for <see cref="ItemStatus.NotRun"/>).</summary>
        public int Attempts { get; }

        /// <summary>The running time of the last attempt.</summary>
        public TimeSpan Duration { get; }

        /// <summary>The worker that ran the last attempt (0 if none did).</summary>
        public int WorkerId { get; }

        /// <summary>The errors of the earlier attempts that were retried, oldest first.</summary>
        public IReadOnlyList<Exception> PreviousErrors { get; }

        /// <summary>What the worker attached to the last attempt (<see cref="ItemContext{TOut}.Attachment"/>), if anything.</summary>
        public object? Attachment { get; }

        /// <summary>True when the item succeeded.</summary>
        public bool Succeeded => Status == ItemStatus.Succeeded;
    }

    /// <summary>
    /// A side record a worker emitted (a log line, a progress record): delivered to the caller as
    /// soon as it is emitted, always before the outcome of the item it belongs to.
    /// </summary>
    /// <typeparam name="TIn">The input type.</typeparam>
    public sealed class WorkerRecord<TIn>
    {
        internal WorkerRecord(long sequence, TIn input, int attempt, int workerId, object record)
        {
            Sequence = sequence;
            Input = input;
            Attempt = attempt;
            WorkerId = workerId;
            Record = record;
        }

        /// <summary>The item's sequence number, or -1 for a record emitted outside any item (a worker's begin or end).</summary>
        public long Sequence { get; }

        /// <summary>The item being processed, or the default value outside any item.</summary>
        public TIn Input { get; }

        /// <summary>The attempt of the item that emitted it (1 for the first), 0 outside any item.</summary>
        public int Attempt { get; }

        /// <summary>The worker that emitted it.</summary>
        public int WorkerId { get; }

        /// <summary>The record itself, as the worker gave it.</summary>
        public object Record { get; }

        /// <summary>True when emitted while an item was running.</summary>
        public bool IsItemRecord => Sequence >= 0;
    }

    /// <summary>
    /// Where the engine hands its results. Every call comes on the caller's thread (the one that
    /// calls <c>Submit</c>, <c>Pump</c>, <c>WaitForOutcomes</c> and <c>Shutdown</c>), never on a worker thread.
    /// </summary>
    /// <typeparam name="TIn">The input type.</typeparam>
    /// <typeparam name="TOut">The output type.</typeparam>
    public interface IEngineSink<TIn, TOut>
    {
        /// <summary>A side record a worker emitted.</summary>
        void OnRecord(WorkerRecord<TIn> record);

        /// <summary>The final outcome of one item.</summary>
        void OnOutcome(ItemOutcome<TIn, TOut> outcome);

        /// <summary>Called at <see cref="EngineOptions.IdleCallbackInterval"/> while the caller is blocked in the engine (to refresh progress, say).</summary>
        void OnWait();
    }
}
