using System;
using System.Collections.Generic;
using System.IO;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>The state a whole journal leaves: every key's state and the counters a writer or summary needs.</summary>
    internal sealed class JournalReplay
    {
        private JournalReplay(Dictionary<string, KeyState> keys)
        {
            Keys = keys;
        }

        public Dictionary<string, KeyState> Keys { get; }

        public long MaxChunk { get; private set; }

        public long Chunks { get; private set; }

        public int Runs { get; private set; }

        public bool LastRunCompleted { get; private set; }

        public long ValidLength { get; private set; }

        public bool HasTornTail { get; private set; }

        public long Done { get; private set; }

        public long Failed { get; private set; }

        /// <summary>
        /// Every chunk a C record names with saver "default", in journal order: these files are ours,
        /// so opening checks that each is there and whole. A hook's chunks are its own files (it may
        /// keep its results elsewhere and leave nothing at the path) and are not listed.
        /// </summary>
        public List<OwnChunk> OwnChunks { get; } = new List<OwnChunk>();

        public static JournalReplay Empty() => new JournalReplay(new Dictionary<string, KeyState>(StringComparer.Ordinal));

        /// <summary>Replays the journal: S marks a key seen, F failed (unless done), D done (terminal; a later D is ignored).</summary>
        public static JournalReplay Run(string journalPath)
        {
            using (var reader = new JournalReader(journalPath, decodeText: false))
            {
                long length = new FileInfo(journalPath).Length;

                // A done key costs its S and D lines, some 55 bytes with a short key; sizing the table
                // from that spares the rehashes of a million-key table without doubling it.
                int capacity = (int)Math.Min(length / 48, 64L * 1024 * 1024);
                var keys = new Dictionary<string, KeyState>(capacity, StringComparer.Ordinal);
                var replay = new JournalReplay(keys);
                var r = new JournalRecord();
                string lastRunId = string.Empty;
                long done = 0, failed = 0, chunks = 0;
                bool lastCompleted = false;
                int runs = 0;
                while (reader.Read(r))
                {
                    switch (r.Type)
                    {
                        case (byte)'S':
                            if (!keys.TryGetValue(r.Key, out KeyState s))
                            {
                                keys.Add(r.Key, KeyState.Seen);
                            }

                            break;
                        case (byte)'D':
                            keys.TryGetValue(r.Key, out KeyState d);
                            if ((d & KeyState.Done) == 0)
                            {
                                if ((d & KeyState.Failed) != 0)
                                {
                                    failed--;
                                }

                                keys[r.Key] = KeyState.Seen | KeyState.Done;
                                done++;
                            }

                            break;
                        case (byte)'F':
                            keys.TryGetValue(r.Key, out KeyState f);
                            if ((f & (KeyState.Done | KeyState.Failed)) == 0)
                            {
                                keys[r.Key] = KeyState.Seen | KeyState.Failed;
                                failed++;
                            }

                            break;
                        case (byte)'C':
                            chunks++;
                            if (!r.SavedByHook)
                            {
                                replay.OwnChunks.Add(new OwnChunk(r.Chunk, r.Number));
                            }

                            break;
                        case (byte)'R':
                            runs++;
                            lastRunId = r.Text;
                            lastCompleted = false;
                            break;
                        case (byte)'E':
                            lastCompleted = r.Text == lastRunId;
                            break;
                    }
                }

                replay.MaxChunk = reader.MaxChunk;
                replay.Chunks = chunks;
                replay.Runs = runs;
                replay.LastRunCompleted = lastCompleted;
                replay.ValidLength = reader.ValidLength;
                replay.HasTornTail = reader.HasTornTail;
                replay.Done = done;
                replay.Failed = failed;
                return replay;
            }
        }
    }
}
