namespace ParallelMap.Engine
{
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
}
