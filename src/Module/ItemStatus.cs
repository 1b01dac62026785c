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
}
