using System;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>Who holds (or held, if it crashed) a checkpoint's lock.</summary>
    public sealed class CheckpointLockHolder
    {
        internal CheckpointLockHolder(string host, int processId, DateTime processStartUtc, DateTime acquiredUtc, string user, string runId)
        {
            Host = host;
            ProcessId = processId;
            ProcessStartUtc = processStartUtc;
            AcquiredUtc = acquiredUtc;
            User = user;
            RunId = runId;
        }

        /// <summary>The host name of the holder (<see cref="Environment.MachineName"/>).</summary>
        public string Host { get; }

        /// <summary>The holder's process id.</summary>
        public int ProcessId { get; }

        /// <summary>When the holder's process started, UTC; tells a reused process id from the holder.</summary>
        public DateTime ProcessStartUtc { get; }

        /// <summary>When the holder took the lock, UTC.</summary>
        public DateTime AcquiredUtc { get; }

        /// <summary>The holder's user name.</summary>
        public string User { get; }

        /// <summary>The holder's session id, as in its journal "R" record.</summary>
        public string RunId { get; }

        /// <summary>Whether the holder is on this host (only such a holder can be found stale).</summary>
        public bool IsThisHost => string.Equals(Host, Environment.MachineName, StringComparison.OrdinalIgnoreCase);

        /// <summary>A one-line description naming host, process id and start times.</summary>
        public override string ToString()
            => EngineText.Format(CheckpointMessages.HolderDescription, Host, ProcessId, ProcessStartUtc, AcquiredUtc, User);
    }
}
