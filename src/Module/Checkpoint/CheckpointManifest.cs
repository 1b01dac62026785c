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
}
