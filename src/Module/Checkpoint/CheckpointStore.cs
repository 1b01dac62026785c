using System;
using System.Collections.Generic;
using System.IO;
using System.Security.Cryptography;
using System.Text;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>
    /// The checkpoint store: a folder holding a manifest, an append-only journal, result chunk files
    /// and a lock (docs/checkpoint-format.md). <see cref="Open"/> makes or resumes a checkpoint and
    /// returns the one writer session; the Read methods take no lock, run nothing, change nothing,
    /// and may run while a writer appends (they see a consistent prefix of the journal).
    /// Payloads are opaque bytes: the store never interprets them.
    /// </summary>
    public static class CheckpointStore
    {
        /// <summary>
        /// Makes a checkpoint in <paramref name="path"/> or resumes the one there, and takes its lock.
        /// On resume the journal is replayed (a torn last record is dropped and cut off; other damage
        /// throws <see cref="CheckpointErrorIds.CheckpointCorrupt"/> and changes nothing), and every chunk
        /// of the store's own writer that it names is checked to exist and be whole (structure, not
        /// payload CRCs: docs/checkpoint-format.md, "What opening checks").
        /// </summary>
        /// <exception cref="ArgumentException">An option is out of range (<see cref="ArgumentException.ParamName"/> names it).</exception>
        /// <exception cref="CheckpointException">With <see cref="CheckpointException.ErrorId"/>
        /// CheckpointLocked, CheckpointCorrupt, CheckpointVersionUnsupported, CheckpointFingerprintMismatch,
        /// CheckpointNotWritable, CheckpointNotFound, CheckpointExists or CheckpointFolderNotEmpty.</exception>
        public static CheckpointSession Open(string path, CheckpointOptions options)
        {
            if (path is null)
            {
                throw new ArgumentNullException(nameof(path));
            }

            if (options is null)
            {
                throw new ArgumentNullException(nameof(options));
            }

            options.Validate();
            var layout = new CheckpointLayout(path);

            // Everything that can be refused without writing is checked before anything is
            // created, so a refused Open leaves a folder exactly as it found it.
            CheckpointManifest? manifest = null;
            if (File.Exists(layout.Manifest))
            {
                if (options.Mode == CheckpointOpenMode.CreateNew)
                {
                    throw new CheckpointException(CheckpointErrorIds.CheckpointExists, CheckpointMessages.Format(CheckpointMessages.Exists, layout.Folder), layout.Folder);
                }

                CheckpointLock.ThrowIfLiveHolder(layout);
                manifest = ReadCheckedManifest(layout, options);
            }
            else
            {
                CheckCanCreate(layout, options.Mode);
            }

            try
            {
                Directory.CreateDirectory(layout.Folder);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw NotWritable(layout, e);
            }

            string runId = Guid.NewGuid().ToString("N");
            CheckpointLock lockHandle = CheckpointLock.Acquire(layout, runId);
            JournalWriter? journal = null;
            try
            {
                bool isNew = false;
                if (manifest is null)
                {
                    // Another writer may have made it between our look and our lock.
                    if (File.Exists(layout.Manifest))
                    {
                        if (options.Mode == CheckpointOpenMode.CreateNew)
                        {
                            throw new CheckpointException(CheckpointErrorIds.CheckpointExists, CheckpointMessages.Format(CheckpointMessages.Exists, layout.Folder), layout.Folder);
                        }

                        manifest = ReadCheckedManifest(layout, options);
                    }
                    else
                    {
                        DurableIo.WriteNewFileDurably(layout.Manifest, ManifestFile.Serialize(DateTime.UtcNow, options.Fingerprint, options.Metadata));
                        manifest = ManifestFile.Read(layout.Manifest);
                        isNew = true;
                    }
                }

                JournalReplay replay;
                if (File.Exists(layout.Journal))
                {
                    // Checked before anything is written (the chunks folder is not even re-created):
                    // resuming over a missing or cut chunk would count its keys done forever.
                    replay = ReplayAndCheck(layout);
                }
                else
                {
                    // Made with the manifest, so missing only if a creation crashed in between;
                    // then there can be no chunk yet, and chunks without a journal are damage.
                    ThrowIfChunksWithoutJournal(layout);
                    DurableIo.WriteNewFileDurably(layout.Journal, JournalWriter.NewJournalContent());
                    replay = JournalReplay.Empty();
                }

                Directory.CreateDirectory(layout.Chunks);
                DurableIo.SyncDirectory(layout.Folder);
                long nextChunk = Math.Max(replay.MaxChunk, ScanChunksAndClean(layout)) + 1;

                journal = JournalWriter.OpenAppend(layout.Journal, replay.ValidLength);
                journal.AppendRun(runId, lockHandle.Holder.Host, lockHandle.Holder.ProcessId, lockHandle.Holder.AcquiredUtc);
                journal.Sync();
                return new CheckpointWriter(layout, options, manifest, isNew, lockHandle, replay, journal, nextChunk, runId);
            }
            catch (Exception e)
            {
                journal?.Dispose();
                lockHandle.Dispose();
                if (e is IOException || e is UnauthorizedAccessException)
                {
                    throw NotWritable(layout, e);
                }

                throw;
            }
        }

        /// <summary>Reads a checkpoint's state without its lock and without running anything. Makes the
        /// checks <see cref="Open"/> makes before resuming, so a checkpoint with a lost chunk or journal
        /// is reported as damaged rather than counted.</summary>
        /// <exception cref="CheckpointException">CheckpointNotFound, CheckpointCorrupt or CheckpointVersionUnsupported.</exception>
        public static CheckpointSummary ReadSummary(string path)
        {
            CheckpointLayout layout = ReadableLayout(path, out CheckpointManifest manifest);
            var summary = new CheckpointSummary { Path = layout.Folder, Manifest = manifest };
            if (JournalExists(layout))
            {
                JournalReplay replay = ReplayAndCheck(layout);
                summary.Seen = replay.Keys.Count;
                summary.Done = replay.Done;
                summary.Failed = replay.Failed;
                summary.Pending = replay.Keys.Count - replay.Done - replay.Failed;
                summary.Chunks = replay.Chunks;
                summary.Runs = replay.Runs;
                summary.LastRunCompleted = replay.LastRunCompleted;
                summary.HasTornTail = replay.HasTornTail;
                summary.LastUpdateUtc = File.GetLastWriteTimeUtc(layout.Journal);
            }
            else
            {
                summary.LastUpdateUtc = manifest.CreatedUtc;
            }

            summary.LockHolder = CheckpointLock.ReadHolder(layout.Holder);
            summary.LockIsStale = summary.LockHolder != null && summary.LockHolder.IsThisHost && !CheckpointLock.IsAlive(summary.LockHolder);
            return summary;
        }

        /// <summary>Reads and checks a checkpoint's manifest.</summary>
        public static CheckpointManifest ReadManifest(string path)
        {
            ReadableLayout(path, out CheckpointManifest manifest);
            return manifest;
        }

        /// <summary>
        /// Streams every saved result, in chunk order and within a chunk in recording order. Only
        /// results of keys the journal records done are returned (a chunk written but never journaled
        /// is ignored); each is checked against its checksum and its journaled key. At most one chunk's
        /// index and one payload are in memory at a time. The checkpoint is checked when this is
        /// called; damage found while streaming throws <see cref="CheckpointErrorIds.CheckpointCorrupt"/>
        /// from the enumeration, and a result in a hook-written chunk throws
        /// <see cref="CheckpointErrorIds.CheckpointCustomChunk"/>.
        /// </summary>
        public static IEnumerable<CheckpointResult> ReadResults(string path)
        {
            CheckpointLayout layout = ReadableLayout(path, out _);
            CheckJournalStart(layout);
            return StreamResults(layout, null);
        }

        /// <summary>
        /// Streams the saved results of the given keys (those that are done), in chunk order, not in the
        /// order given; keys not done are left out. Chunks holding none of them are not opened.
        /// </summary>
        public static IEnumerable<CheckpointResult> ReadResults(string path, IEnumerable<string> keys)
        {
            if (keys is null)
            {
                throw new ArgumentNullException(nameof(keys));
            }

            CheckpointLayout layout = ReadableLayout(path, out _);
            CheckJournalStart(layout);
            var wanted = new HashSet<string>(StringComparer.Ordinal);
            foreach (string key in keys)
            {
                wanted.Add(key ?? throw new ArgumentException("A key is null.", nameof(keys)));
            }

            return StreamResults(layout, wanted);
        }

        /// <summary>
        /// Streams where every done key's result is (chunk file and entry index), in journal order. This is
        /// how results saved by a <see cref="CheckpointSaveHook"/> are found: the index is the position in
        /// the lists the hook was given.
        /// </summary>
        public static IEnumerable<CheckpointIndexEntry> ReadIndex(string path)
        {
            CheckpointLayout layout = ReadableLayout(path, out _);
            CheckJournalStart(layout);
            return StreamIndex(layout);
        }

        /// <summary>The keys whose last outcome is a failure, with their error text and attempts, in the order they first failed.
        /// Holds the failed keys (not all keys) in memory.</summary>
        public static IReadOnlyList<CheckpointFailure> ReadFailures(string path)
        {
            CheckpointLayout layout = ReadableLayout(path, out _);
            var failures = new Dictionary<string, CheckpointFailure>(StringComparer.Ordinal);
            var order = new List<string>();
            if (!CheckJournalStart(layout))
            {
                return Array.Empty<CheckpointFailure>();
            }

            // Two passes keep memory to the failed keys: the first collects each key's last failure,
            // the second drops the keys done at any point (done is terminal, even before a failure).
            var r = new JournalRecord();
            using (var reader = new JournalReader(layout.Journal, decodeText: true))
            {
                while (reader.Read(r))
                {
                    if (r.Type == (byte)'F')
                    {
                        if (!failures.ContainsKey(r.Key))
                        {
                            order.Add(r.Key);
                        }

                        failures[r.Key] = new CheckpointFailure(r.Key, r.Text, r.Number);
                    }
                }
            }

            if (failures.Count > 0)
            {
                using (var reader = new JournalReader(layout.Journal, decodeText: false))
                {
                    while (reader.Read(r))
                    {
                        if (r.Type == (byte)'D')
                        {
                            failures.Remove(r.Key);
                        }
                    }
                }
            }

            var result = new List<CheckpointFailure>(failures.Count);
            foreach (string key in order)
            {
                if (failures.TryGetValue(key, out CheckpointFailure? f))
                {
                    result.Add(f);
                }
            }

            return result;
        }

        /// <summary>
        /// A fingerprint for <see cref="CheckpointOptions.Fingerprint"/>: "sha256:" and the hex SHA-256 of the
        /// parts (each UTF-8, length-prefixed, so ("ab","c") and ("a","bc") differ).
        /// </summary>
        public static string ComputeFingerprint(params string[] parts)
        {
            if (parts is null)
            {
                throw new ArgumentNullException(nameof(parts));
            }

            using (var stream = new MemoryStream())
            {
                var word = new byte[4];
                foreach (string part in parts)
                {
                    byte[] bytes = Encoding.UTF8.GetBytes(part ?? string.Empty);
                    ChunkFile.PutInt(word, bytes.Length);
                    stream.Write(word, 0, 4);
                    stream.Write(bytes, 0, bytes.Length);
                }

                using (SHA256 sha = SHA256.Create())
                {
                    byte[] hash = sha.ComputeHash(stream.ToArray());
                    var sb = new StringBuilder("sha256:", 7 + 64);
                    foreach (byte b in hash)
                    {
                        sb.Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
                    }

                    return sb.ToString();
                }
            }
        }

        private static IEnumerable<CheckpointResult> StreamResults(CheckpointLayout layout, HashSet<string>? wanted)
        {
            if (!File.Exists(layout.Journal))
            {
                yield break;
            }

            var group = new List<KeyValuePair<int, string>>();
            long chunk = -1;
            bool hook = false;
            var r = new JournalRecord();
            using (var reader = new JournalReader(layout.Journal, decodeText: false))
            {
                while (reader.Read(r))
                {
                    if (r.Type == (byte)'C')
                    {
                        foreach (CheckpointResult result in ReadGroup(layout, chunk, hook, group))
                        {
                            yield return result;
                        }

                        group.Clear();
                        chunk = r.Chunk;
                        hook = r.SavedByHook;
                    }
                    else if (r.Type == (byte)'D' && (wanted is null || wanted.Contains(r.Key)))
                    {
                        group.Add(new KeyValuePair<int, string>(r.Index, r.Key));
                    }
                }
            }

            foreach (CheckpointResult result in ReadGroup(layout, chunk, hook, group))
            {
                yield return result;
            }
        }

        private static IEnumerable<CheckpointResult> ReadGroup(CheckpointLayout layout, long chunk, bool hook, List<KeyValuePair<int, string>> group)
        {
            if (group.Count == 0)
            {
                yield break;
            }

            string chunkPath = layout.ChunkPath(chunk);
            if (hook)
            {
                throw new CheckpointException(
                    CheckpointErrorIds.CheckpointCustomChunk,
                    CheckpointMessages.Format(CheckpointMessages.CustomChunk, group[0].Value, chunkPath),
                    chunkPath) { Key = group[0].Value };
            }

            for (int i = 1; i < group.Count; i++)
            {
                if (group[i].Key <= group[i - 1].Key)
                {
                    group.Sort((a, b) => a.Key.CompareTo(b.Key));
                    break;
                }
            }

            using (ChunkReader reader = ChunkReader.Open(chunkPath))
            {
                foreach (KeyValuePair<int, string> entry in group)
                {
                    if (entry.Key >= reader.Count)
                    {
                        throw reader.Damage(8, CheckpointMessages.Format(CheckpointMessages.ChunkIndexOutOfRange, entry.Key, reader.Count));
                    }

                    while (reader.Position < entry.Key)
                    {
                        reader.Skip();
                    }

                    if (reader.Position > entry.Key)
                    {
                        continue; // the same entry named twice by a foreign journal: returned once
                    }

                    reader.Read(out string key, out byte[] payload);
                    if (!string.Equals(key, entry.Value, StringComparison.Ordinal))
                    {
                        throw reader.Damage(0, CheckpointMessages.Format(CheckpointMessages.ChunkKeyMismatch, entry.Key, key, entry.Value));
                    }

                    yield return new CheckpointResult(key, payload);
                }
            }
        }

        private static IEnumerable<CheckpointIndexEntry> StreamIndex(CheckpointLayout layout)
        {
            if (!File.Exists(layout.Journal))
            {
                yield break;
            }

            var r = new JournalRecord();
            using (var reader = new JournalReader(layout.Journal, decodeText: false))
            {
                while (reader.Read(r))
                {
                    if (r.Type == (byte)'D')
                    {
                        yield return new CheckpointIndexEntry(r.Key, r.Chunk, r.Index, layout.ChunkPath(r.Chunk), r.SavedByHook);
                    }
                }
            }
        }

        private static CheckpointLayout ReadableLayout(string path, out CheckpointManifest manifest)
        {
            if (path is null)
            {
                throw new ArgumentNullException(nameof(path));
            }

            var layout = new CheckpointLayout(path);
            if (!File.Exists(layout.Manifest))
            {
                if (File.Exists(layout.Journal))
                {
                    throw CheckpointException.Corrupt(layout.Manifest, 0, CheckpointMessages.Format(CheckpointMessages.ManifestMissingJournalPresent, layout.Folder, layout.Manifest));
                }

                throw new CheckpointException(CheckpointErrorIds.CheckpointNotFound, CheckpointMessages.Format(CheckpointMessages.NotFound, layout.Folder, CheckpointLayout.ManifestName), layout.Folder);
            }

            manifest = ManifestFile.Read(layout.Manifest);
            return layout;
        }

        private static CheckpointManifest ReadCheckedManifest(CheckpointLayout layout, CheckpointOptions options)
        {
            CheckpointManifest manifest = ManifestFile.Read(layout.Manifest);
            if (!options.AllowFingerprintMismatch && !string.Equals(manifest.Fingerprint, options.Fingerprint, StringComparison.Ordinal))
            {
                throw new CheckpointException(
                    CheckpointErrorIds.CheckpointFingerprintMismatch,
                    CheckpointMessages.Format(CheckpointMessages.FingerprintMismatch, layout.Folder, manifest.Fingerprint, options.Fingerprint),
                    layout.Manifest);
            }

            return manifest;
        }

        /// <summary>Refuses to make a checkpoint where one cannot be made: none wanted, a journal without a manifest, or someone else's files.</summary>
        private static void CheckCanCreate(CheckpointLayout layout, CheckpointOpenMode mode)
        {
            if (mode == CheckpointOpenMode.OpenExisting)
            {
                throw new CheckpointException(CheckpointErrorIds.CheckpointNotFound, CheckpointMessages.Format(CheckpointMessages.NotFound, layout.Folder, CheckpointLayout.ManifestName), layout.Folder);
            }

            if (!Directory.Exists(layout.Folder))
            {
                return;
            }

            if (File.Exists(layout.Journal))
            {
                throw CheckpointException.Corrupt(layout.Manifest, 0, CheckpointMessages.Format(CheckpointMessages.ManifestMissingJournalPresent, layout.Folder, layout.Manifest));
            }

            // What a creation that crashed early can leave: the lock files, temporaries, an empty chunks folder.
            foreach (string entry in Directory.EnumerateFileSystemEntries(layout.Folder))
            {
                string name = Path.GetFileName(entry);
                bool ours = name == CheckpointLayout.LockName
                    || name == CheckpointLayout.HolderName
                    || name.EndsWith(CheckpointLayout.TempExtension, StringComparison.Ordinal)
                    || (name == CheckpointLayout.ChunksName && Directory.Exists(entry) && !HasEntries(entry));
                if (!ours)
                {
                    throw new CheckpointException(
                        CheckpointErrorIds.CheckpointFolderNotEmpty,
                        CheckpointMessages.Format(CheckpointMessages.FolderNotEmpty, layout.Folder, CheckpointLayout.ManifestName),
                        layout.Folder);
                }
            }
        }

        /// <summary>
        /// Replays an existing journal and checks that everything it calls saved is there: the journal
        /// has a record if there are chunks (an empty journal next to results is a lost record, not
        /// a new run), and every chunk of the store's own writer that a C record names exists, has the
        /// C record's entry count and ends exactly after its last entry. Payload CRCs are not read
        /// here (that would cost reading every result; see docs/checkpoint-format.md); readers of
        /// results check them. Throws CheckpointCorrupt naming the file; changes nothing.
        /// </summary>
        private static JournalReplay ReplayAndCheck(CheckpointLayout layout)
        {
            JournalReplay replay = JournalReplay.Run(layout.Journal);
            if (replay.ValidLength == 0)
            {
                ThrowIfChunksBesideEmptyJournal(layout);
            }

            foreach (OwnChunk chunk in replay.OwnChunks)
            {
                ChunkReader.VerifyStructure(layout.ChunkPath(chunk.Number), chunk.Count);
            }

            return replay;
        }

        /// <summary>
        /// For a reader: whether there is a journal to read. A missing one is only an interrupted
        /// creation (the manifest is written first, then the journal, then the chunks folder), so
        /// with chunks beside it the journal was lost: CheckpointCorrupt.
        /// </summary>
        private static bool JournalExists(CheckpointLayout layout)
        {
            if (File.Exists(layout.Journal))
            {
                return true;
            }

            ThrowIfChunksWithoutJournal(layout);
            return File.Exists(layout.Journal);
        }

        /// <summary>
        /// The cheap part of <see cref="ReplayAndCheck"/> for the streaming readers, done when they are
        /// called rather than half-way through an enumeration: the journal is there, and, if chunks
        /// are, it holds at least one record. False when there is no journal (an interrupted creation).
        /// </summary>
        private static bool CheckJournalStart(CheckpointLayout layout)
        {
            if (!JournalExists(layout))
            {
                return false;
            }

            bool any;
            using (var reader = new JournalReader(layout.Journal, decodeText: false))
            {
                any = reader.Read(new JournalRecord());
            }

            if (!any)
            {
                ThrowIfChunksBesideEmptyJournal(layout);
            }

            return true;
        }

        private static void ThrowIfChunksWithoutJournal(CheckpointLayout layout)
        {
            // Re-checked after the chunks: a writer making the checkpoint meanwhile writes the journal
            // before it creates the chunks folder, so a journal seen missing and then chunks are
            // either damage or that writer, and a second look tells which.
            if (Directory.Exists(layout.Chunks) && HasEntries(layout.Chunks) && !File.Exists(layout.Journal))
            {
                throw CheckpointException.Corrupt(layout.Journal, 0, CheckpointMessages.Format(CheckpointMessages.JournalMissingChunksPresent, layout.Folder, layout.Journal));
            }
        }

        private static void ThrowIfChunksBesideEmptyJournal(CheckpointLayout layout)
        {
            // A writer gives the journal its header (temporary, fsync, rename) before it creates the
            // chunks folder, so no crash leaves chunks beside a journal without a valid record.
            if (Directory.Exists(layout.Chunks) && HasEntries(layout.Chunks))
            {
                throw CheckpointException.Corrupt(layout.Journal, 0, CheckpointMessages.Format(CheckpointMessages.JournalEmptyChunksPresent, layout.Folder, layout.Journal));
            }
        }

        private static bool HasEntries(string directory)
        {
            using (IEnumerator<string> e = Directory.EnumerateFileSystemEntries(directory).GetEnumerator())
            {
                return e.MoveNext();
            }
        }

        /// <summary>
        /// The highest number any chunks-folder entry starts with, temporaries and a hook's litter
        /// included, so that no name is used twice. Our own temporaries (a crash before their rename)
        /// are then deleted: nothing refers to them.
        /// </summary>
        private static long ScanChunksAndClean(CheckpointLayout layout)
        {
            long max = 0;
            var temps = new List<string>();
            foreach (string entry in Directory.EnumerateFileSystemEntries(layout.Chunks))
            {
                string name = Path.GetFileName(entry);
                max = Math.Max(max, CheckpointLayout.LeadingNumber(name));
                if (name.EndsWith(CheckpointLayout.ChunkExtension + CheckpointLayout.TempExtension, StringComparison.Ordinal))
                {
                    temps.Add(entry);
                }
            }

            foreach (string temp in temps)
            {
                DurableIo.TryDelete(temp);
            }

            return max;
        }

        private static CheckpointException NotWritable(CheckpointLayout layout, Exception e)
            => new CheckpointException(CheckpointErrorIds.CheckpointNotWritable, CheckpointMessages.Format(CheckpointMessages.NotWritable, layout.Folder, e.Message), layout.Folder, e);
    }
}
