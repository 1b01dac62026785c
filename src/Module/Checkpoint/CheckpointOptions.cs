using System;
using System.Collections.Generic;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>
    /// How a checkpoint session saves. <see cref="Validate"/> (called by
    /// <see cref="CheckpointStore.Open"/>) throws an <see cref="ArgumentException"/> whose
    /// <see cref="ArgumentException.ParamName"/> names the option at fault.
    /// </summary>
    public sealed class CheckpointOptions
    {
        /// <summary>The largest <see cref="ChunkSize"/>.</summary>
        public const int MaxChunkSize = 1_000_000;

        /// <summary>What the batch runs (for example a hash of the script and its parameters, see
        /// <see cref="CheckpointStore.ComputeFingerprint"/>). Stored when the checkpoint is made; a resume
        /// with a different value fails with <see cref="CheckpointErrorIds.CheckpointFingerprintMismatch"/>
        /// unless <see cref="AllowFingerprintMismatch"/>. Default: empty.</summary>
        public string Fingerprint { get; set; } = string.Empty;

        /// <summary>Resume even when <see cref="Fingerprint"/> differs from the stored one (the stored one is kept).</summary>
        public bool AllowFingerprintMismatch { get; set; }

        /// <summary>Free text metadata stored in the manifest when the checkpoint is made; ignored on resume.</summary>
        public IDictionary<string, string>? Metadata { get; set; }

        /// <summary>Results per chunk: a chunk is saved when it holds this many. 1 to <see cref="MaxChunkSize"/>; default 1000.</summary>
        public int ChunkSize { get; set; } = 1000;

        /// <summary>A chunk is also saved when its payloads reach this many bytes, which bounds the
        /// memory the buffer holds. 1 byte to 2 GiB; default 64 MiB.</summary>
        public long ChunkMaxBytes { get; set; } = 64L * 1024 * 1024;

        /// <summary>The time bound: anything recorded is saved (and fsynced) by the first call into the
        /// session after it has waited this long, so a slow trickle is still saved. Positive; default 5 s.</summary>
        public TimeSpan ChunkMaxAge { get; set; } = TimeSpan.FromSeconds(5);

        /// <summary>Replaces the store's own chunk writer; see <see cref="CheckpointSaveHook"/>. Results saved
        /// by a hook are read back with the hook's own reader (<see cref="CheckpointStore.ReadIndex"/> says where).</summary>
        public CheckpointSaveHook? SaveHook { get; set; }

        /// <summary>
        /// Saves chunks on a thread of the session's own, so a full chunk's writes and fsyncs do not
        /// hold up the caller: <see cref="CheckpointSession.RecordResult(string, byte[])"/> hands the chunk over and
        /// returns, and its keys are done once the saver has saved it (the on-disk order, and so what a
        /// crash leaves, is the same). A failed background save is thrown by the next call into the
        /// session. At most two chunks are held: a full one waits for the one being saved. Ignored with
        /// a <see cref="SaveHook"/>, which always runs on the caller's thread. Default false.
        /// </summary>
        public bool BackgroundSave { get; set; }

        /// <summary>Whether to make, resume, or either. Default <see cref="CheckpointOpenMode.OpenOrCreate"/>.</summary>
        public CheckpointOpenMode Mode { get; set; } = CheckpointOpenMode.OpenOrCreate;

        /// <summary>For tests: the monotonic clock in 100 ns ticks, in place of <see cref="System.Diagnostics.Stopwatch"/>.</summary>
        internal Func<long>? Clock { get; set; }

        /// <summary>For tests: called at the named steps of a chunk commit ("chunk-written", "chunk-renamed",
        /// "journal-written"); throwing there stands for a crash at that step.</summary>
        internal Action<string>? FaultHook { get; set; }

        /// <summary>Throws an <see cref="ArgumentException"/> naming the first option out of range.</summary>
        public void Validate()
        {
            if (Fingerprint is null)
            {
                throw new ArgumentNullException(nameof(Fingerprint));
            }

            if (ChunkSize < 1 || ChunkSize > MaxChunkSize)
            {
                throw new ArgumentOutOfRangeException(nameof(ChunkSize), ChunkSize, EngineText.Format(CheckpointMessages.OptionRange, nameof(ChunkSize), 1, MaxChunkSize));
            }

            if (ChunkMaxBytes < 1 || ChunkMaxBytes > int.MaxValue)
            {
                throw new ArgumentOutOfRangeException(nameof(ChunkMaxBytes), ChunkMaxBytes, EngineText.Format(CheckpointMessages.OptionRange, nameof(ChunkMaxBytes), 1, int.MaxValue));
            }

            if (ChunkMaxAge <= TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(ChunkMaxAge), ChunkMaxAge, EngineText.Format(CheckpointMessages.OptionPositive, nameof(ChunkMaxAge)));
            }

            if (Mode != CheckpointOpenMode.OpenOrCreate && Mode != CheckpointOpenMode.CreateNew && Mode != CheckpointOpenMode.OpenExisting)
            {
                throw new ArgumentOutOfRangeException(nameof(Mode), Mode, EngineText.Format(CheckpointMessages.OptionModeUnknown, nameof(Mode)));
            }

            if (Metadata != null)
            {
                foreach (KeyValuePair<string, string> pair in Metadata)
                {
                    if (string.IsNullOrEmpty(pair.Key) || pair.Value is null)
                    {
                        throw new ArgumentException(EngineText.Format(CheckpointMessages.OptionMetadataKey, nameof(Metadata)), nameof(Metadata));
                    }
                }
            }
        }
    }
}
