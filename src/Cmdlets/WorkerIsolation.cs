namespace ParallelMap.Commands
{
    /// <summary>Where each worker of a run lives.</summary>
    public enum WorkerIsolation
    {
        /// <summary>A runspace in this process (the default): fast, objects shared by reference.</summary>
        Runspace,

        /// <summary>A child PowerShell process per worker: a crash domain of its own; values cross serialized.</summary>
        Process,
    }
}
