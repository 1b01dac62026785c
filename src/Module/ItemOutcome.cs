using System;
using System.Collections.Generic;

namespace ParallelMap.Engine
{
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
}
