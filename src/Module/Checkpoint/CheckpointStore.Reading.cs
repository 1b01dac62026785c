using System;
using System.Collections.Generic;
using System.IO;
using System.Security.Cryptography;
using System.Text;

namespace ParallelMap.Engine.Checkpoint
{
    // The readers: summary, manifest, results, index and failures, without the lock.
    public static partial class CheckpointStore
    {
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
                    EngineText.Format(CheckpointMessages.CustomChunk, group[0].Value, chunkPath),
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
                        throw reader.Damage(8, EngineText.Format(CheckpointMessages.ChunkIndexOutOfRange, entry.Key, reader.Count));
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
                        throw reader.Damage(0, EngineText.Format(CheckpointMessages.ChunkKeyMismatch, entry.Key, key, entry.Value));
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
                    throw CheckpointException.Corrupt(layout.Manifest, 0, EngineText.Format(CheckpointMessages.ManifestMissingJournalPresent, layout.Folder, layout.Manifest));
                }

                throw new CheckpointException(CheckpointErrorIds.CheckpointNotFound, EngineText.Format(CheckpointMessages.NotFound, layout.Folder, CheckpointLayout.ManifestName), layout.Folder);
            }

            manifest = ManifestFile.Read(layout.Manifest);
            return layout;
        }
    }
}
