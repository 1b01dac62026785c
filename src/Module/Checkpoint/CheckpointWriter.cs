using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Threading;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>The writer session (see <see cref="CheckpointSession"/> for the contract).</summary>
    /// <remarks>
    /// The parts: the key state and the public calls (this file), chunk buffering and saving
    /// (CheckpointWriter.Chunks.cs), the journal records (CheckpointWriter.Journal.cs), and the
    /// background saver (<see cref="ChunkSaver"/>), which shares this writer's gate.
    /// </remarks>
    internal sealed partial class CheckpointWriter : CheckpointSession
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

        /// <summary>The background saver (null without <see cref="CheckpointOptions.BackgroundSave"/>).</summary>
        private readonly ChunkSaver? saver;

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
            if (background)
            {
                saver = new ChunkSaver(gate, this);
            }
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
                saver?.WaitIdle();
                disposed = true;
                saver?.Close();
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
