using System;
using System.Collections.Generic;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>What a checkpoint's manifest says: written once when the checkpoint is made.</summary>
    public sealed class CheckpointManifest
    {
        internal CheckpointManifest(int version, DateTime createdUtc, string fingerprint, IReadOnlyDictionary<string, string> metadata, string createdBy)
        {
            Version = version;
            CreatedUtc = createdUtc;
            Fingerprint = fingerprint;
            Metadata = metadata;
            CreatedBy = createdBy;
        }

        /// <summary>The on-disk format version (this build writes and reads 1).</summary>
        public int Version { get; }

        /// <summary>When the checkpoint was made, UTC.</summary>
        public DateTime CreatedUtc { get; }

        /// <summary>The fingerprint of the batch that made the checkpoint.</summary>
        public string Fingerprint { get; }

        /// <summary>The free metadata given when the checkpoint was made.</summary>
        public IReadOnlyDictionary<string, string> Metadata { get; }

        /// <summary>The program that made the checkpoint (informational).</summary>
        public string CreatedBy { get; }
    }

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
            => CheckpointMessages.Format(CheckpointMessages.HolderDescription, Host, ProcessId, ProcessStartUtc, AcquiredUtc, User);
    }

    /// <summary>The state of a checkpoint, read without running anything and without the lock.</summary>
    public sealed class CheckpointSummary
    {
        /// <summary>The checkpoint folder.</summary>
        public string Path { get; internal set; } = string.Empty;

        /// <summary>The manifest.</summary>
        public CheckpointManifest Manifest { get; internal set; } = null!;

        /// <summary>Distinct keys the journal knows: submitted to run, done or failed.</summary>
        public long Seen { get; internal set; }

        /// <summary>Keys whose results are durably saved.</summary>
        public long Done { get; internal set; }

        /// <summary>Keys whose last outcome is a failure (and that are not done).</summary>
        public long Failed { get; internal set; }

        /// <summary>Keys submitted but neither done nor failed (in flight or unsaved when a run ended).</summary>
        public long Pending { get; internal set; }

        /// <summary>Chunks committed.</summary>
        public long Chunks { get; internal set; }

        /// <summary>Writer sessions started on this checkpoint.</summary>
        public int Runs { get; internal set; }

        /// <summary>Whether the last session called Complete.</summary>
        public bool LastRunCompleted { get; internal set; }

        /// <summary>The journal's last write time, UTC.</summary>
        public DateTime LastUpdateUtc { get; internal set; }

        /// <summary>Whether the journal ends in a torn record, which the next writer drops.</summary>
        public bool HasTornTail { get; internal set; }

        /// <summary>The lock holder named in the folder, or null when no writer holds (or crashed holding) the lock.</summary>
        public CheckpointLockHolder? LockHolder { get; internal set; }

        /// <summary>Whether <see cref="LockHolder"/> is on this host and its process is gone, so the next writer takes the lock over.</summary>
        public bool LockIsStale { get; internal set; }
    }

    /// <summary>One saved result, read back from a checkpoint.</summary>
    public readonly struct CheckpointResult
    {
        internal CheckpointResult(string key, byte[] payload)
        {
            Key = key;
            Payload = payload;
        }

        /// <summary>The item's key.</summary>
        public string Key { get; }

        /// <summary>The result payload, as recorded.</summary>
        public byte[] Payload { get; }
    }

    /// <summary>A key whose last outcome is a failure.</summary>
    public sealed class CheckpointFailure
    {
        internal CheckpointFailure(string key, string errorText, int attempts)
        {
            Key = key;
            ErrorText = errorText;
            Attempts = attempts;
        }

        /// <summary>The item's key.</summary>
        public string Key { get; }

        /// <summary>The error text recorded with the failure.</summary>
        public string ErrorText { get; }

        /// <summary>The attempts recorded with the failure.</summary>
        public int Attempts { get; }
    }

    /// <summary>Where a done key's result is: a chunk file and the entry's position in it.</summary>
    public readonly struct CheckpointIndexEntry
    {
        internal CheckpointIndexEntry(string key, long chunk, int index, string chunkPath, bool savedByHook)
        {
            Key = key;
            Chunk = chunk;
            Index = index;
            ChunkPath = chunkPath;
            SavedByHook = savedByHook;
        }

        /// <summary>The item's key.</summary>
        public string Key { get; }

        /// <summary>The chunk number.</summary>
        public long Chunk { get; }

        /// <summary>The entry's position in the chunk (and in the lists the save hook was given).</summary>
        public int Index { get; }

        /// <summary>The chunk file's full path.</summary>
        public string ChunkPath { get; }

        /// <summary>Whether a save hook wrote the chunk (in its own format).</summary>
        public bool SavedByHook { get; }
    }
}
