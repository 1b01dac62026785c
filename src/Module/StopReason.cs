namespace ParallelMap.Engine
{
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
}
