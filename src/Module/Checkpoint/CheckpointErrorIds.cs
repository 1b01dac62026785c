namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>
    /// The stable error ids a <see cref="CheckpointException"/> carries. The cmdlet layer passes
    /// them on as PowerShell ErrorIds, so they never change once released.
    /// </summary>
    public static class CheckpointErrorIds
    {
        /// <summary>Another writer holds the checkpoint's lock (or a lock on another host, never treated as stale).</summary>
        public const string CheckpointLocked = "CheckpointLocked";

        /// <summary>A checkpoint file is damaged other than by a torn last journal record; nothing was changed.</summary>
        public const string CheckpointCorrupt = "CheckpointCorrupt";

        /// <summary>The manifest or journal declares a format version this build cannot read.</summary>
        public const string CheckpointVersionUnsupported = "CheckpointVersionUnsupported";

        /// <summary>The checkpoint was made by a different batch (its fingerprint differs from the one given).</summary>
        public const string CheckpointFingerprintMismatch = "CheckpointFingerprintMismatch";

        /// <summary>A key was submitted twice in one run, or a result was recorded for a key already done.</summary>
        public const string DuplicateKey = "DuplicateKey";

        /// <summary>The checkpoint folder or one of its files cannot be created or written.</summary>
        public const string CheckpointNotWritable = "CheckpointNotWritable";

        /// <summary>No checkpoint exists at the path (for readers, and for <see cref="CheckpointOpenMode.OpenExisting"/>).</summary>
        public const string CheckpointNotFound = "CheckpointNotFound";

        /// <summary>A checkpoint already exists at the path and <see cref="CheckpointOpenMode.CreateNew"/> was asked for.</summary>
        public const string CheckpointExists = "CheckpointExists";

        /// <summary>The folder holds other files but no checkpoint, so it is not made into one.</summary>
        public const string CheckpointFolderNotEmpty = "CheckpointFolderNotEmpty";

        /// <summary>Saving a chunk failed (the save hook threw, or an I/O error); the session is faulted.</summary>
        public const string CheckpointSaveFailed = "CheckpointSaveFailed";

        /// <summary>A result lives in a chunk written by a save hook, whose format the store cannot read.</summary>
        public const string CheckpointCustomChunk = "CheckpointCustomChunk";
    }
}
