using System.Globalization;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>Every message the checkpoint store shows, in one place.</summary>
    internal static class CheckpointMessages
    {
        internal const string Locked = "The checkpoint '{0}' is in use by {1}.";
        internal const string LockedOtherHost = "The checkpoint '{0}' is locked by {1} on another host; a lock from another host is never treated as stale. If that run is certainly over, delete '{2}'.";
        internal const string LockedUnknownHolder = "The checkpoint '{0}' is in use by another writer whose details could not be read from '{1}'.";
        internal const string LockedLiveHolderWithoutOsLock = "The checkpoint '{0}' names a running holder, {1}, in '{2}'. If that process does not use this checkpoint, delete '{2}'.";
        internal const string HolderDescription = "process {1} on host '{0}' (process started {2:u}, lock taken {3:u}, user '{4}')";
        internal const string NotWritable = "The checkpoint '{0}' cannot be written: {1}";
        internal const string NotFound = "No checkpoint exists at '{0}' (no '{1}').";
        internal const string Exists = "A checkpoint already exists at '{0}'.";
        internal const string FolderNotEmpty = "The folder '{0}' is not empty and holds no checkpoint manifest ('{1}'); choose a new or empty folder for a checkpoint.";
        internal const string ManifestMissingJournalPresent = "The checkpoint '{0}' has a journal but no manifest '{1}'.";
        internal const string JournalMissingChunksPresent = "The checkpoint '{0}' has result chunks but no journal '{1}'. Nothing was changed.";
        internal const string ManifestUnreadable = "The manifest '{0}' is damaged at offset {1}: {2}";
        internal const string ManifestNotCheckpoint = "The manifest '{0}' is not a ParallelMap checkpoint manifest (format '{1}').";
        internal const string ManifestVersionUnsupported = "The checkpoint manifest '{0}' has format version {1}; this build reads version {2} only.";
        internal const string JournalVersionUnsupported = "The journal '{0}' has format version {1}; this build reads version {2} only.";
        internal const string FingerprintMismatch = "The checkpoint '{0}' was made by a different batch: its fingerprint is '{1}', this batch's is '{2}'.";
        internal const string JournalChecksum = "The journal '{0}' is damaged at offset {1}: the record fails its checksum. Nothing was changed.";
        internal const string JournalMalformed = "The journal '{0}' is damaged at offset {1}: {2}. Nothing was changed.";
        internal const string JournalNoHeader = "the first record is not a journal header";
        internal const string JournalBadNumber = "a number field is not a decimal number";
        internal const string JournalBadFieldCount = "a '{0}' record has {1} fields, {2} expected";
        internal const string JournalUnknownType = "unknown record type '{0}'";
        internal const string JournalBadEscape = "a text field has an invalid escape";
        internal const string JournalBadUtf8 = "a text field is not valid UTF-8";
        internal const string JournalDoneWithoutChunk = "a done record names chunk {0}, which is not the chunk being committed";
        internal const string JournalChunkNotIncreasing = "chunk number {0} is not above the earlier chunk {1}";
        internal const string JournalBadIndex = "a done record names entry {0} of chunk {1}, which has {2} entries";
        internal const string JournalBadSaver = "a chunk record names an unknown saver '{0}'";
        internal const string ChunkDamaged = "The result chunk '{0}' is damaged at offset {1}: {2}.";
        internal const string ChunkMissing = "The result chunk '{0}' named by the journal does not exist.";
        internal const string ChunkBadMagic = "it does not start with the chunk signature";
        internal const string ChunkTruncated = "it ends inside an entry";
        internal const string ChunkChecksum = "an entry fails its checksum";
        internal const string DiscardLocked = "The checkpoint '{0}' cannot be discarded: a running batch holds it ({1}).";
        internal const string DiscardNotACheckpoint = "'{0}' is not deleted: it is not a checkpoint (it has no manifest, but holds '{1}'). Check the path.";
        internal const string DiscardForeignEntry = "'{0}' is not deleted: besides the checkpoint it holds '{1}', which the checkpoint did not make. Move that out first.";
        internal const string ResultTooLarge = "The result is more than {0} bytes once serialized, the most one key can record: split the item into several keys.";
        internal const string SpillChanged = "The spilled result '{0}' has {1} bytes where {2} were written.";
        internal const string ChunkBadLength = "an entry has an impossible length";
        internal const string ChunkKeyMismatch = "entry {0} holds key '{1}' but the journal says '{2}'";
        internal const string ChunkCountMismatch = "its header says {0} entries but the journal's chunk record says {1}";
        internal const string ChunkTrailingBytes = "{0} bytes follow its last entry";
        internal const string JournalEmptyChunksPresent = "The checkpoint '{0}' has result chunks but its journal '{1}' holds no record. Nothing was changed.";
        internal const string ChunkIndexOutOfRange = "the journal names entry {0} but the chunk has {1}";
        internal const string CustomChunk = "The result of key '{0}' is in chunk '{1}', written by a save hook in its own format; read it with the hook's own reader (CheckpointStore.ReadIndex names the files).";
        internal const string DuplicateKeyInRun = "The key '{0}' occurs more than once in this batch; every item needs a distinct key.";
        internal const string DuplicateKeyDone = "The key '{0}' is already recorded done; a result is recorded once per key.";
        internal const string SaveHookFailed = "The save hook failed for chunk '{0}' ({1} results); none of them is recorded done and the checkpoint session is stopped: {2}";
        internal const string SaveFailed = "Saving chunk '{0}' ({1} results) failed; none of them is recorded done and the checkpoint session is stopped: {2}";
        internal const string JournalWriteFailed = "Writing the journal '{0}' failed and the checkpoint session is stopped: {1}";
        internal const string Faulted = "The checkpoint session '{0}' stopped after an earlier save failure; open the checkpoint again to resume.";
        internal const string SessionCompleted = "The checkpoint session was completed; nothing more can be recorded.";
        internal const string InvalidKey = "The key is not valid Unicode (it holds a lone surrogate) and cannot be stored.";
        internal const string OptionRange = "{0} must be between {1} and {2}.";
        internal const string OptionPositive = "{0} must be a positive time span.";
        internal const string OptionMetadataKey = "{0} keys must be non-empty and values non-null.";
        internal const string OptionModeUnknown = "{0} has an unknown value.";
        internal const string NegativeAttempts = "attempts must not be negative.";

        internal static string Format(string format, params object?[] args) => string.Format(CultureInfo.InvariantCulture, format, args);
    }
}
