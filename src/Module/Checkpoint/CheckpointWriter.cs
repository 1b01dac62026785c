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
        private readonly object _gate = new object();

        private readonly CheckpointLayout _layout;

        /// <summary>Every key the journal or this run knows, with its state.</summary>
        private readonly Dictionary<string, KeyState> _keys;

        private readonly JournalWriter _journal;

        private readonly int _chunkSize;

        private readonly long _chunkMaxBytes;

        private readonly long _chunkMaxAgeTicks;

        private readonly CheckpointSaveHook? _saveHook;

        private readonly Action<string>? _faultHook;

        private readonly Func<long> _clock;

        private readonly string _runId;

        /// <summary>Keys and payloads of the chunk being filled, parallel lists.</summary>
        private readonly List<string> _bufferKeys = new List<string>();

        private readonly List<byte[]> _bufferPayloads = new List<byte[]>();

        /// <summary>Parallel to the payloads: the spill that holds an entry's payload instead (its byte array then empty), or null.</summary>
        private readonly List<ResultSpill?> _bufferSpills = new List<ResultSpill?>();

        private long _bufferBytes;

        /// <summary>Clock reading when the oldest thing not yet fsynced was recorded; -1 when all is saved.</summary>
        private long _oldestUnsaved = -1;

        /// <summary>The number the next chunk gets: above every number in the journal and in the chunks folder.</summary>
        private long _nextChunk;

        private long _doneCount;

        private long _failedCount;

        /// <summary>The lock, until Dispose (null afterwards).</summary>
        private CheckpointLock? _lockHandle;

        private bool _disposed;

        /// <summary>A save failed: the on-disk state is still consistent, but this session writes no more.</summary>
        private bool _faulted;

        private bool _completed;

        /// <summary>Chunks are saved by a thread of the session's own (no save hook).</summary>
        private readonly bool _background;

        /// <summary>The background saver (null without <see cref="CheckpointOptions.BackgroundSave"/>).</summary>
        private readonly ChunkSaver? _saver;

        /// <summary>Why the background saver failed; thrown to the next caller.</summary>
        private CheckpointException? _saverFailure;

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
            _layout = layout;
            _lockHandle = lockHandle;
            _journal = journal;
            _nextChunk = nextChunk;
            _runId = runId;
            _keys = replay.Keys;
            _doneCount = replay.Done;
            _failedCount = replay.Failed;
            _chunkSize = options.ChunkSize;
            _chunkMaxBytes = options.ChunkMaxBytes;
            _chunkMaxAgeTicks = options.ChunkMaxAge.Ticks;
            _saveHook = options.SaveHook;
            _faultHook = options.FaultHook;
            _clock = options.Clock ?? StopwatchTicks;
            Manifest = manifest;
            IsNew = isNew;
            Holder = lockHandle.Holder;
            TookOverStaleLockFrom = lockHandle.TakenOverFrom;
            DroppedTornTail = replay.HasTornTail;
            _background = options.BackgroundSave && _saveHook is null;
            if (_background)
            {
                _saver = new ChunkSaver(_gate, this);
            }
        }

        public override string Path => _layout.Folder;

        public override CheckpointManifest Manifest { get; }

        public override bool IsNew { get; }

        public override CheckpointLockHolder Holder { get; }

        public override CheckpointLockHolder? TookOverStaleLockFrom { get; }

        public override bool DroppedTornTail { get; }

        public override long DoneCount
        {
            get
            {
                lock (_gate)
                {
                    return _doneCount;
                }
            }
        }

        public override long FailedCount
        {
            get
            {
                lock (_gate)
                {
                    return _failedCount;
                }
            }
        }

        public override int BufferedCount
        {
            get
            {
                lock (_gate)
                {
                    return _bufferKeys.Count;
                }
            }
        }

        public override bool IsDone(string key)
        {
            CheckKey(key);
            lock (_gate)
            {
                ThrowIfDisposed();
                return _keys.TryGetValue(key, out KeyState s) && (s & KeyState.Done) != 0;
            }
        }

        public override bool IsFailed(string key)
        {
            CheckKey(key);
            lock (_gate)
            {
                ThrowIfDisposed();
                return _keys.TryGetValue(key, out KeyState s) && (s & (KeyState.Failed | KeyState.Done)) == KeyState.Failed;
            }
        }

        public override bool ShouldRun(string key, bool retryFailed)
        {
            CheckKey(key);
            lock (_gate)
            {
                ThrowIfNotWritable();
                _keys.TryGetValue(key, out KeyState s);
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

                _keys[key] = s | KeyState.ThisRun;
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

            Buffer(key, payload, null);
        }

        public override ResultSpill CreateSpill() => new ResultSpill(_layout.NewSpillPath());

        public override void RecordResult(string key, ResultSpill spill)
        {
            CheckKey(key);
            if (spill is null)
            {
                throw new ArgumentNullException(nameof(spill));
            }

            try
            {
                spill.Seal();
            }
            catch (ObjectDisposedException)
            {
                // Disposed by its writer: its file is gone, so it holds no result to record.
                throw new ArgumentException(EngineText.Format(CheckpointMessages.SpillChanged, spill.FilePath, 0, spill.Length), nameof(spill));
            }

            try
            {
                Buffer(key, Array.Empty<byte>(), spill);
            }
            catch
            {
                // Not taken (a duplicate key, a faulted session): the file is litter.
                spill.Delete();
                throw;
            }
        }

        /// <summary>Adds a result to the chunk being filled (bytes, or a sealed spill with an empty byte array) and saves the chunk when it is full.</summary>
        private void Buffer(string key, byte[] payload, ResultSpill? spill)
        {
            lock (_gate)
            {
                ThrowIfNotWritable();
                _keys.TryGetValue(key, out KeyState s);
                CheckNoOutcome(key, s);
                if ((s & KeyState.ThisRun) == 0)
                {
                    AppendJournal(JournalOp.Submitted, key);
                }

                _keys[key] = s | KeyState.Seen | KeyState.ThisRun | KeyState.Outcome;
                _bufferKeys.Add(key);
                _bufferPayloads.Add(payload);
                _bufferSpills.Add(spill);
                _bufferBytes += spill?.Length ?? payload.Length;
                MarkUnsaved();
                if (_bufferKeys.Count >= _chunkSize || _bufferBytes >= _chunkMaxBytes)
                {
                    if (_background)
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

            lock (_gate)
            {
                ThrowIfNotWritable();
                _keys.TryGetValue(key, out KeyState s);
                CheckNoOutcome(key, s);
                AppendJournal(JournalOp.Failure, key, errorText ?? string.Empty, attempts);
                if ((s & KeyState.Failed) == 0)
                {
                    _failedCount++;
                }

                _keys[key] = s | KeyState.Seen | KeyState.ThisRun | KeyState.Outcome | KeyState.Failed;
                MarkUnsaved();
                SaveIfDue();
                AssertInvariants();
            }
        }

        public override bool FlushIfDue()
        {
            lock (_gate)
            {
                ThrowIfNotWritable();
                return SaveIfDue();
            }
        }

        public override void Flush()
        {
            lock (_gate)
            {
                ThrowIfNotWritable();
                SaveAll();
            }
        }

        public override void Complete()
        {
            lock (_gate)
            {
                ThrowIfNotWritable();
                SaveAll();
                AppendJournal(JournalOp.End, _runId);
                SyncJournal();
                _completed = true;
            }
        }

        public override void Dispose()
        {
            lock (_gate)
            {
                if (_disposed)
                {
                    return;
                }

                // A chunk the saver has started is finished (bounded by its I/O), never torn off.
                _saver?.WaitIdle();
                _disposed = true;
                _saver?.Close();
                try
                {
                    _journal.Dispose();
                }
                finally
                {
                    // Before the lock goes: after it, the spills in the folder may be the next writer's.
                    DeleteSpills();
                    _lockHandle?.Dispose();
                    _lockHandle = null;
                }
            }

            // The saver has nothing left to do and only wakes to leave.
            _saver?.Join();
        }

        /// <summary>
        /// Deletes the spill files left in the chunks folder: those buffered but never saved (their
        /// keys re-run on resume), of a failed save, and of items that ended without recording.
        /// Under the lock, so every spill there is this writer's own.
        /// </summary>
        private void DeleteSpills()
        {
            try
            {
                foreach (string entry in Directory.EnumerateFiles(_layout.Chunks, CheckpointLayout.SpillPrefix + "*"))
                {
                    if (CheckpointLayout.IsSpillName(System.IO.Path.GetFileName(entry))) DurableIo.TryDelete(entry);
                }
            }
            catch (IOException)
            {
                // Only litter, deleted again when the checkpoint is next opened.
            }
            catch (UnauthorizedAccessException)
            {
            }
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
            => new CheckpointException(CheckpointErrorIds.DuplicateKey, EngineText.Format(format, key)) { Key = key };

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
            if (_disposed)
            {
                throw new ObjectDisposedException(nameof(CheckpointSession));
            }
        }

        private void ThrowIfNotWritable()
        {
            ThrowIfDisposed();
            if (_faulted)
            {
                if (_saverFailure != null)
                {
                    throw new CheckpointException(_saverFailure.ErrorId, _saverFailure.Message, _saverFailure.FilePath ?? _layout.Folder, _saverFailure);
                }

                throw new CheckpointException(CheckpointErrorIds.CheckpointSaveFailed, EngineText.Format(CheckpointMessages.Faulted, _layout.Folder), _layout.Folder);
            }

            if (_completed)
            {
                throw new InvalidOperationException(CheckpointMessages.SessionCompleted);
            }
        }

        [Conditional("DEBUG")]
        private void AssertInvariants()
        {
            Debug.Assert(Monitor.IsEntered(_gate), "invariants are checked under the gate");
            Debug.Assert(_bufferKeys.Count == _bufferPayloads.Count && _bufferKeys.Count == _bufferSpills.Count, "keys, payloads and spills are parallel");
            Debug.Assert(_faulted || _bufferKeys.Count < _chunkSize, "a full chunk is saved at once");
            Debug.Assert(_bufferKeys.Count == 0 || _oldestUnsaved >= 0, "buffered results have an age");
            Debug.Assert(_doneCount >= 0 && _failedCount >= 0, "counts are not negative");
        }
    }
}
