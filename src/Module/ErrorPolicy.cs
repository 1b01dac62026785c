namespace ParallelMap.Engine
{
    /// <summary>What the engine does when an item fails for good (after its retries).</summary>
    public enum ErrorPolicy
    {
        /// <summary>Each failure is an outcome; the other items go on.</summary>
        Continue = 0,

        /// <summary>The first final failure cancels the rest promptly; items never started are reported <see cref="ItemStatus.NotRun"/>.</summary>
        Stop = 1,
    }
}
