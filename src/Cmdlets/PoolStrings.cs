namespace ParallelMap.Commands
{
    /// <summary>The messages and ErrorIds of runspace pools (kept apart from <see cref="Strings"/> so pool work touches one file).</summary>
    internal static class PoolStrings
    {
        // ErrorIds
        internal const string PoolSettingConflictId = "PoolSettingConflict";
        internal const string PoolClosedId = "PoolClosed";
        internal const string PoolNotFoundId = "PoolNotFound";

        // Messages
        internal const string SettingBelongsToPool = "-{0} cannot be given with -Pool: it is part of each runspace's life, so it is set once, when the pool is made (New-ParallelPool -{0}). Make another pool for other settings.";
        internal const string IsolationNotWithPool = "-{0} cannot be given with -Pool: a pool's runspaces run in this process, and pools of worker processes do not exist yet. Leave out -Pool to run with -Isolation Process.";
        internal const string ThrottleAbovePool = "-ThrottleLimit {0} is above the pool's size of {1}: a call on a pool runs at most as many items at once as the pool has runspaces.";
        internal const string PoolClosed = "The pool {0} is closed (Remove-ParallelPool or Dispose); make a new one with New-ParallelPool.";
        internal const string PoolNotFound = "No open pool has the id {0}.";
        internal const string RemoveAction = "Close the pool's runspaces, running their cleanup scripts";
    }
}
