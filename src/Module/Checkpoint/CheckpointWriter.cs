using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Threading;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>The writer session (see <see cref="CheckpointSession"/> for the contract).</summary>
    internal sealed class CheckpointWriter : CheckpointSession
    {
        /// <summary>Serializes every member; held across a chunk save (and the save hook) so that
        /// Dispose from another thread never releases the lock while a save is under way.</summary>
        private readonly object gate = new object();

        private readonly CheckpointLayout layout;

        /// <summary>Every key the journal or this run knows, with its state.</summary>
        private readonly Dictionary<string, KeyState> keys;

        private readonly JournalWriter journal;

        private readonly int chunkSize;

        private readonly long chunkMaxBytes;

        private readonly long chunkMaxAgeTicks;

        private readonly CheckpointSaveHook? saveHook;

        private readonly Action<string>? faultHook;

        private readonly Func<long> clock;

        private readonly string runId;

        /// <summary>Keys and payloads of the chunk being filled, parallel lists.</summary>
        private readonly List<string> bufferKeys = new List<string>();

        private readonly List<byte[]> bufferPayloads = new List<byte[]>();

        private long bufferBytes;

        /// <summary>Clock reading when the oldest thing not yet fsynced was recorded; -1 when all is saved.</summary>
        private long oldestUnsaved = -1;

        /// <summary>The number the next chunk gets: above every number in the journal and in the chunks folder.</summary>
        private long nextChunk;

        private long doneCount;

        private long failedCount;

        /// <summary>The lock, until Dispose (null afterwards).</summary>
        private CheckpointLock? lockHandle;

        private bool disposed;

        /// <summary>A save failed: the on-disk state is still consistent, but this session writes no more.</summary>
        private bool faulted;

        private bool completed;

        /// <summary>Chunks are saved by a thread of the session's own (no save hook).</summary>
        private readonly bool background;

        /// <summary>The background saver, started with the first chunk.</summary>
        private Thread? saver;

        /// <summary>The chunk handed to the saver and not yet saved (or failed); at most one.</summary>
        private ChunkJob? pending;

        /// <summary>Why the background saver failed; thrown to the next caller.</summary>
        private CheckpointException? saverFailure;

        internal CheckpointWriter(
            CheckpointLayout layout,
            CheckpointOptions options,
            CheckpointManifest manifest,
            bool isNew,
            CheckpointLock lockHandle,
            JournalReplay replay,
            JournalWriter journal,
            long nextChunk,
            string runId)
        {
            this.layout = layout;
            this.lockHandle = lockHandle;
            this.journal = journal;
            this.nextChunk = nextChunk;
            this.runId = runId;
            keys = replay.Keys;
            doneCount = replay.Done;
            failedCount = replay.Failed;
            chunkSize = options.ChunkSize;
            chunkMaxBytes = options.ChunkMaxBytes;
            chunkMaxAgeTicks = options.ChunkMaxAge.Ticks;
            saveHook = options.SaveHook;
            faultHook = options.FaultHook;
            clock = options.Clock ?? StopwatchTicks;
            Manifest = manifest;
            IsNew = isNew;
            Holder = lockHandle.Holder;
            TookOverStaleLockFrom = lockHandle.TakenOverFrom;
            DroppedTornTail = replay.HasTornTail;
            background = options.BackgroundSave && saveHook is null;
        }

        public override string Path => layout.Folder;

        public override CheckpointManifest Manifest { get; }

        public override bool IsNew { get; }

        public override CheckpointLockHolder Holder { get; }

        public override CheckpointLockHolder? TookOverStaleLockFrom { get; }

        public override bool DroppedTornTail { get; }

        public override long DoneCount
        {
            get
            {
                lock (gate)
                {
                    return doneCount;
                }
            }
        }

        public override long FailedCount
        {
            get
            {
                lock (gate)
                {
                    return failedCount;
                }
            }
        }

        public override int BufferedCount
        {
            get
            {
                lock (gate)
                {
                    return bufferKeys.Count;
                }
            }
        }

        public override bool IsDone(string key)
        {
            CheckKey(key);
            lock (gate)
            {
                ThrowIfDisposed();
                return keys.TryGetValue(key, out KeyState s) && (s & KeyState.Done) != 0;
            }
        }

        public override bool IsFailed(string key)
        {
            CheckKey(key);
            lock (gate)
            {
                ThrowIfDisposed();
                return keys.TryGetValue(key, out KeyState s) && (s & (KeyState.Failed | KeyState.Done)) == KeyState.Failed;
            }
        }

        public override bool ShouldRun(string key, bool retryFailed)
        {
            CheckKey(key);
            lock (gate)
            {
                ThrowIfNotWritable();
                keys.TryGetValue(key, out KeyState s);
                if ((s & KeyState.ThisRun) != 0)
                {
                    throw Duplicate(key, CheckpointMessages.DuplicateKeyInRun);
                }

                bool run = (s & KeyState.Done) == 0 && ((s & KeyState.Failed) == 0 || retryFailed);
                if (run)
                {
                    // The S record goes first: it throws for a key that cannot be stored, before any state changes.
                    AppendJournal(JournalOp.Submitted, key);
                    s |= KeyState.Seen;
                    MarkUnsaved();
                }

                keys[key] = s | KeyState.ThisRun;
                SaveIfDue();
                AssertInvariants();
                return run;
            }
        }

        public override void RecordResult(string key, byte[] payload)
        {
            CheckKey(key);
            if (payload is null)
            {
                throw new ArgumentNullException(nameof(payload));
            }

            lock (gate)
            {
                ThrowIfNotWritable();
                keys.TryGetValue(key, out KeyState s);
                CheckNoOutcome(key, s);
                if ((s & KeyState.ThisRun) == 0)
                {
                    AppendJournal(JournalOp.Submitted, key);
                }

                keys[key] = s | KeyState.Seen | KeyState.ThisRun | KeyState.Outcome;
                bufferKeys.Add(key);
                bufferPayloads.Add(payload);
                bufferBytes += payload.Length;
                MarkUnsaved();
                if (bufferKeys.Count >= chunkSize || bufferBytes >= chunkMaxBytes)
                {
                    if (background)
                    {
                        HandToSaver();
                    }
                    else
                    {
                        SaveChunk();
                    }
                }
                else
                {
                    SaveIfDue();
                }

                AssertInvariants();
            }
        }

        public override void RecordFailure(string key, string errorText, int attempts)
        {
            CheckKey(key);
            if (attempts < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(attempts), attempts, CheckpointMessages.NegativeAttempts);
            }

            lock (gate)
            {
                ThrowIfNotWritable();
                keys.TryGetValue(key, out KeyState s);
                CheckNoOutcome(key, s);
                AppendJournal(JournalOp.Failure, key, errorText ?? string.Empty, attempts);
                if ((s & KeyState.Failed) == 0)
                {
                    failedCount++;
                }

                keys[key] = s | KeyState.Seen | KeyState.ThisRun | KeyState.Outcome | KeyState.Failed;
                MarkUnsaved();
                SaveIfDue();
                AssertInvariants();
            }
        }

        public override bool FlushIfDue()
        {
            lock (gate)
            {
                ThrowIfNotWritable();
                return SaveIfDue();
            }
        }

        public override void Flush()
        {
            lock (gate)
            {
                ThrowIfNotWritable();
                SaveAll();
            }
        }

        public override void Complete()
        {
            lock (gate)
            {
                ThrowIfNotWritable();
                SaveAll();
                AppendJournal(JournalOp.End, runId);
                SyncJournal();
                completed = true;
            }
        }

        public override void Dispose()
        {
            lock (gate)
            {
                if (disposed)
                {
                    return;
                }

                // A chunk the saver has started is finished (bounded by its I/O), never torn off.
                WaitForPendingSave();
                disposed = true;
                Monitor.PulseAll(gate); // the saver sees disposed and leaves
                try
                {
                    journal.Dispose();
                }
                finally
                {
                    lockHandle?.Dispose();
                    lockHandle = null;
                }
            }

            // The saver has nothing left to do and only wakes to leave.
            saver?.Join();
        }

        private static long StopwatchTicks()
            => (long)(Stopwatch.GetTimestamp() * (10_000_000.0 / Stopwatch.Frequency));

        private static void CheckKey(string key)
        {
            if (key is null)
            {
                throw new ArgumentNullException(nameof(key));
            }
        }

        private static CheckpointException Duplicate(string key, string format)
            => new CheckpointException(CheckpointErrorIds.DuplicateKey, CheckpointMessages.Format(format, key)) { Key = key };

        private static void CheckNoOutcome(string key, KeyState s)
        {
            if ((s & KeyState.Done) != 0)
            {
                throw Duplicate(key, CheckpointMessages.DuplicateKeyDone);
            }

            if ((s & KeyState.Outcome) != 0)
            {
                throw Duplicate(key, CheckpointMessages.DuplicateKeyInRun);
            }
        }

        private void ThrowIfDisposed()
        {
            if (disposed)
            {
                throw new ObjectDisposedException(nameof(CheckpointSession));
            }
        }

        private void ThrowIfNotWritable()
        {
            ThrowIfDisposed();
            if (faulted)
            {
                if (saverFailure != null)
                {
                    throw new CheckpointException(saverFailure.ErrorId, saverFailure.Message, saverFailure.FilePath ?? layout.Folder, saverFailure);
                }

                throw new CheckpointException(CheckpointErrorIds.CheckpointSaveFailed, CheckpointMessages.Format(CheckpointMessages.Faulted, layout.Folder), layout.Folder);
            }

            if (completed)
            {
                throw new InvalidOperationException(CheckpointMessages.SessionCompleted);
            }
        }

        private void MarkUnsaved()
        {
            if (oldestUnsaved < 0)
            {
                oldestUnsaved = clock();
            }
        }

        private bool SaveIfDue()
        {
            if (oldestUnsaved < 0 || clock() - oldestUnsaved < chunkMaxAgeTicks)
            {
                return false;
            }

            if (background && bufferKeys.Count > 0)
            {
                // Handed over without waiting; if the saver is busy, a later call hands it.
                if (pending == null)
                {
                    HandToSaver();
                }

                return true;
            }

            SaveAll();
            return true;
        }

        private void SaveAll()
        {
            WaitForSaver();
            if (bufferKeys.Count > 0)
            {
                SaveChunk();
            }
            else if (journal.HasUnsynced)
            {
                SyncJournal();
            }

            oldestUnsaved = -1;
        }

        private enum JournalOp
        {
            Submitted,
            Failure,
            End,
        }

        /// <summary>Appends one record; an I/O error faults the session (an invalid key does not: nothing was appended).</summary>
        private void AppendJournal(JournalOp op, string key, string text = "", int attempts = 0)
        {
            try
            {
                switch (op)
                {
                    case JournalOp.Submitted: journal.AppendSubmitted(key); break;
                    case JournalOp.Failure: journal.AppendFailure(attempts, key, text); break;
                    default: journal.AppendEnd(key); break;
                }
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw JournalFailed(e);
            }
        }

        private void SyncJournal()
        {
            try
            {
                journal.Sync();
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw JournalFailed(e);
            }
        }

        private CheckpointException JournalFailed(Exception e)
        {
            faulted = true;
            return new CheckpointException(CheckpointErrorIds.CheckpointSaveFailed, CheckpointMessages.Format(CheckpointMessages.JournalWriteFailed, journal.Path, e.Message), journal.Path, e);
        }

        /// <summary>
        /// Saves the buffered results as the next chunk and only then journals its keys done:
        /// chunk written and fsynced, renamed into place, folder fsynced; then the C and D records
        /// appended and the journal fsynced. A crash anywhere before that last fsync completes leaves
        /// the keys not done (they re-run); the chunk's name is never used again. Runs under the gate.
        /// </summary>
        private void SaveChunk()
        {
            Debug.Assert(bufferKeys.Count > 0, "SaveChunk needs something to save");
            ChunkJob job = TakeChunk();
            try
            {
                WriteChunk(job);
                AppendChunkRecords(job);
                journal.Sync();
            }
            catch (Exception e)
            {
                faulted = true;
                throw SaveFailed(job, e);
            }

            MarkDone(job);
            ClearBuffer();
        }

        /// <summary>
        /// Hands the buffered results to the background saver, which saves them exactly as
        /// <see cref="SaveChunk"/> does while the caller goes on; their keys are done once it has.
        /// Waits first for the chunk before (so at most two chunks are held). Runs under the gate.
        /// </summary>
        private void HandToSaver()
        {
            WaitForSaver();
            pending = TakeChunk();
            ClearBuffer();
            if (saver == null)
            {
                saver = new Thread(SaverMain) { IsBackground = true, Name = "ParallelMap checkpoint" };
                saver.Start();
            }

            Monitor.PulseAll(gate);
        }

        /// <summary>Waits (releasing the gate) until no chunk is being saved; throws if that save failed.</summary>
        private void WaitForSaver()
        {
            WaitForPendingSave();
            if (faulted)
            {
                ThrowIfNotWritable();
            }
        }

        /// <summary>Waits (releasing the gate) until the saver holds no chunk.</summary>
        private void WaitForPendingSave()
        {
            while (pending != null)
            {
                Monitor.Wait(gate);
            }
        }

        private void SaverMain()
        {
            while (true)
            {
                ChunkJob job;
                lock (gate)
                {
                    while (pending == null && !disposed)
                    {
                        Monitor.Wait(gate);
                    }

                    if (pending == null)
                    {
                        return;
                    }

                    job = pending;
                }

                CheckpointException? failure = null;
                try
                {
                    // The chunk file is the saver's own: written without the gate, so the caller
                    // records and submits meanwhile. The journal's records are appended under it.
                    WriteChunk(job);
                    lock (gate)
                    {
                        AppendChunkRecords(job);
                    }

                    journal.FlushToDisk();
                }
                catch (Exception e)
                {
                    failure = SaveFailed(job, e);
                }

                lock (gate)
                {
                    if (failure == null)
                    {
                        MarkDone(job);
                    }
                    else
                    {
                        faulted = true;
                        saverFailure = failure;
                    }

                    pending = null;
                    Monitor.PulseAll(gate);
                }
            }
        }

        private ChunkJob TakeChunk()
        {
            long number = nextChunk++;
            return new ChunkJob(number, layout.ChunkPath(number), bufferKeys.ToArray(), bufferPayloads.ToArray());
        }

        private void ClearBuffer()
        {
            bufferKeys.Clear();
            bufferPayloads.Clear();
            bufferBytes = 0;
            oldestUnsaved = -1; // the chunk's save fsyncs the journal, covering every record appended before it
        }

        /// <summary>Writes the chunk's file (or has the save hook write it) and makes it durable.</summary>
        private void WriteChunk(ChunkJob job)
        {
            if (saveHook != null)
            {
                try
                {
                    saveHook(job.Path, job.Payloads, job.Keys);
                }
                catch (Exception e)
                {
                    throw new CheckpointException(
                        CheckpointErrorIds.CheckpointSaveFailed,
                        CheckpointMessages.Format(CheckpointMessages.SaveHookFailed, job.Path, job.Keys.Length, e.Message),
                        job.Path,
                        e);
                }

                // The hook's file (if it made one at the chunk path) is made durable as ours would
                // be; what a hook writes elsewhere is its own to make durable.
                if (File.Exists(job.Path))
                {
                    using (var fs = new FileStream(job.Path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, 1))
                    {
                        DurableIo.SyncFile(fs);
                    }

                    DurableIo.SyncDirectory(layout.Chunks);
                }
            }
            else
            {
                string temp = job.Path + CheckpointLayout.TempExtension;
                ChunkFile.Write(temp, job.Keys, job.Payloads);
                faultHook?.Invoke("chunk-written");
                File.Move(temp, job.Path); // never over an existing file
                DurableIo.SyncDirectory(layout.Chunks);
            }

            faultHook?.Invoke("chunk-renamed");
        }

        /// <summary>Appends the chunk's C and D records and writes them to the file (not yet fsynced). Under the gate.</summary>
        private void AppendChunkRecords(ChunkJob job)
        {
            journal.AppendChunk(job.Number, job.Keys.Length, saveHook != null);
            for (int i = 0; i < job.Keys.Length; i++)
            {
                journal.AppendDone(job.Number, i, job.Keys[i]);
            }

            journal.Write();
            faultHook?.Invoke("journal-written");
        }

        /// <summary>The chunk's keys are done: its file and its journal records are durable. Under the gate.</summary>
        private void MarkDone(ChunkJob job)
        {
            foreach (string key in job.Keys)
            {
                KeyState s = keys[key];
                if ((s & KeyState.Failed) != 0)
                {
                    failedCount--;
                }

                keys[key] = (s & ~KeyState.Failed) | KeyState.Done;
                doneCount++;
            }
        }

        private static CheckpointException SaveFailed(ChunkJob job, Exception e) => e as CheckpointException
            ?? new CheckpointException(
                CheckpointErrorIds.CheckpointSaveFailed,
                CheckpointMessages.Format(CheckpointMessages.SaveFailed, job.Path, job.Keys.Length, e.Message),
                job.Path,
                e);

        /// <summary>A chunk on its way to disk: its number and path, and its keys with their payloads.</summary>
        private sealed class ChunkJob
        {
            internal ChunkJob(long number, string path, string[] keys, byte[][] payloads)
            {
                Number = number;
                Path = path;
                Keys = keys;
                Payloads = payloads;
            }

            internal long Number { get; }

            internal string Path { get; }

            internal string[] Keys { get; }

            internal byte[][] Payloads { get; }
        }

        [Conditional("DEBUG")]
        private void AssertInvariants()
        {
            Debug.Assert(Monitor.IsEntered(gate), "invariants are checked under the gate");
            Debug.Assert(bufferKeys.Count == bufferPayloads.Count, "keys and payloads are parallel");
            Debug.Assert(faulted || bufferKeys.Count < chunkSize, "a full chunk is saved at once");
            Debug.Assert(bufferKeys.Count == 0 || oldestUnsaved >= 0, "buffered results have an age");
            Debug.Assert(doneCount >= 0 && failedCount >= 0, "counts are not negative");
        }
    }
}
