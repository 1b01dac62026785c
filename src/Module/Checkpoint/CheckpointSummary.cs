using System;

namespace ParallelMap.Engine.Checkpoint
{
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
}
