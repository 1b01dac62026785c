using System;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>
    /// A writer session on a checkpoint, from <see cref="CheckpointStore.Open"/>: it holds the
    /// checkpoint's lock until disposed. Meant for one caller thread (the pipeline thread); every
    /// member is mutually exclusive with the others, so <see cref="Dispose"/> may come from another
    /// thread and waits for a call under way (including a save hook) to return.
    /// <para>
    /// The flow per item: <see cref="ShouldRun"/> (false: skip it, it is done or a failure not to
    /// retry), run it, then <see cref="RecordResult(string, byte[])"/> or <see cref="RecordFailure"/>. Results are
    /// buffered into a chunk; the chunk is saved when it holds <see cref="CheckpointOptions.ChunkSize"/>
    /// results or <see cref="CheckpointOptions.ChunkMaxBytes"/> bytes, or when
    /// <see cref="CheckpointOptions.ChunkMaxAge"/> has passed (checked on every call and by
    /// <see cref="FlushIfDue"/>, which the caller calls periodically). Without
    /// <see cref="CheckpointOptions.BackgroundSave"/> every save runs on the calling thread, inside
    /// the call that made it due; with it (and no save hook), a full or due chunk is handed to one saver thread of the
    /// session's own, which writes it while the caller goes on (at most one chunk in its hands; a
    /// call that needs it saved, such as <see cref="Flush"/>, <see cref="Complete"/> or
    /// <see cref="Dispose"/>, waits for it). A key is done only once its chunk is durably saved and
    /// the journal says so, whichever thread saved it.
    /// </para>
    /// </summary>
    public abstract class CheckpointSession : IDisposable
    {
        private protected CheckpointSession()
        {
        }

        /// <summary>The checkpoint folder, as a full path.</summary>
        public abstract string Path { get; }

        /// <summary>The checkpoint's manifest.</summary>
        public abstract CheckpointManifest Manifest { get; }

        /// <summary>Whether this session made the checkpoint (false: it resumes one).</summary>
        public abstract bool IsNew { get; }

        /// <summary>This session, as the lock names it.</summary>
        public abstract CheckpointLockHolder Holder { get; }

        /// <summary>The holder of a stale lock (its process was gone) that this session took over, or null.</summary>
        public abstract CheckpointLockHolder? TookOverStaleLockFrom { get; }

        /// <summary>Whether opening dropped a torn last journal record (left by a crash).</summary>
        public abstract bool DroppedTornTail { get; }

        /// <summary>Keys recorded done, by earlier runs and by this one.</summary>
        public abstract long DoneCount { get; }

        /// <summary>Keys whose last outcome is a failure.</summary>
        public abstract long FailedCount { get; }

        /// <summary>Results buffered in the current chunk, not yet saved.</summary>
        public abstract int BufferedCount { get; }

        /// <summary>Whether <paramref name="key"/> is recorded done (its result durably saved).</summary>
        public abstract bool IsDone(string key);

        /// <summary>Whether <paramref name="key"/>'s last outcome is a failure.</summary>
        public abstract bool IsFailed(string key);

        /// <summary>
        /// Submits <paramref name="key"/> for this run and says whether to run it: false if it is done,
        /// or failed and <paramref name="retryFailed"/> is false. A key submitted twice in one run throws
        /// <see cref="CheckpointErrorIds.DuplicateKey"/> naming it, whatever the answer was the first time.
        /// </summary>
        /// <exception cref="ArgumentException">The key is not valid Unicode (a lone surrogate).</exception>
        public abstract bool ShouldRun(string key, bool retryFailed);

        /// <summary>
        /// Records <paramref name="key"/>'s result. The store keeps <paramref name="payload"/> (no copy)
        /// until the chunk is saved: do not change it. The key is done once the chunk is saved, which
        /// may happen within this call. A second outcome for a key in one run, or a result for a key
        /// already done, throws <see cref="CheckpointErrorIds.DuplicateKey"/>.
        /// </summary>
        public abstract void RecordResult(string key, byte[] payload);

        /// <summary>
        /// A new, empty file for one key's result, written as it is made (<see cref="ResultSpill"/>).
        /// Safe to call from any thread: it touches only the chunks folder, not the session's state.
        /// </summary>
        public abstract ResultSpill CreateSpill();

        /// <summary>
        /// Records <paramref name="key"/>'s result from a spill, which the session then owns (it
        /// closes it, copies it into the chunk and deletes it once the chunk is durable). Otherwise
        /// as <see cref="RecordResult(string, byte[])"/>; a spill counts toward
        /// <see cref="CheckpointOptions.ChunkMaxBytes"/> by its length, so a big one is saved at once.
        /// </summary>
        public abstract void RecordResult(string key, ResultSpill spill);

        /// <summary>
        /// Records that <paramref name="key"/> failed, with its error text and the attempts made. The
        /// record is saved with the next chunk or within <see cref="CheckpointOptions.ChunkMaxAge"/>.
        /// Resume skips it unless asked to retry failures.
        /// </summary>
        public abstract void RecordFailure(string key, string errorText, int attempts);

        /// <summary>Saves what is buffered if the time bound has passed; true if it saved anything.</summary>
        public abstract bool FlushIfDue();

        /// <summary>Saves the buffered results as a chunk (even a short one) and fsyncs the journal.</summary>
        public abstract void Flush();

        /// <summary>Saves everything and marks the run complete in the journal. Nothing can be recorded afterwards.</summary>
        public abstract void Complete();

        /// <summary>
        /// Releases the lock and closes the files, exactly once. It saves nothing: results still
        /// buffered (not flushed) are dropped and their keys stay pending, to re-run on resume.
        /// </summary>
        public abstract void Dispose();
    }
}
