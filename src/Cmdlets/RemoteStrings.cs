namespace ParallelMap.Commands
{
    /// <summary>The messages and ErrorIds of work spread over remote sessions (-Session).</summary>
    internal static class RemoteStrings
    {
        internal const string SessionNotUsableId = "SessionNotUsable";
        internal const string AllSessionsLostId = "AllSessionsLost";
        internal const string SessionParameterConflictId = "SessionParameterConflict";
        internal const string WorkerLostId = "RemoteWorkerLost";

        internal const string SessionNotUsable = "The session '{0}' (to {1}) cannot run work: {2}. Open it again with New-PSSession, or leave it out of -Session.";
        internal const string StateNotOpened = "its state is {0}, not Opened";
        internal const string NoConnectionInfo = "it is not a remote session (it has no connection settings)";
        internal const string SessionNull = "-Session holds a null entry.";
        internal const string SessionConflict = "-{0} cannot be given with -Session: {1}";
        internal const string ConflictIsolation = "the workers of -Session are remote runspaces, each in the remote host's pwsh";
        internal const string ConflictPool = "a pool's runspaces run in this process";
        internal const string ConflictIdleTimeout = "a pool's connections to remote hosts stay open until the pool is removed";
        internal const string ConflictRecycle = "it applies to local worker processes (-Isolation Process) only";
        internal const string ConnectionBroke = "the connection broke ({0})";
        internal const string SshClientEnded = "the connection broke (its ssh client process, {0}, ended)";
        internal const string ConnectionLost = "The connection of a worker to {0} broke under the item ({1}); the item runs again on another worker.";
        internal const string HostLost = "Host {0} (session '{1}') is lost ({2}): its items run on the other sessions.";
        internal const string HostKnownLost = "Host {0} was lost earlier in this run.";
        internal const string AllSessionsLost = "Every session of -Session is lost, so no item can run any more; what finished was passed on (and recorded). The last loss: {0}";
        internal const string OnHost = "On {0}: {1}";
    }
}
