namespace ParallelMap.Engine
{
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
