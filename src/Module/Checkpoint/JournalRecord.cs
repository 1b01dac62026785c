using System;
using System.Text;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>One journal record as read; reused from record to record (only the fields of its type are set).</summary>
    internal sealed class JournalRecord
    {
        /// <summary>H, R, S, C, D, F or E.</summary>
        public byte Type;

        /// <summary>Byte offset of the record's first byte in the journal.</summary>
        public long Offset;

        /// <summary>S, D, F: the key. R: the host.</summary>
        public string Key = string.Empty;

        /// <summary>C, D: the chunk number.</summary>
        public long Chunk;

        /// <summary>D: the entry's index in its chunk.</summary>
        public int Index;

        /// <summary>C: the chunk's entry count. F: the attempts. R: the PID. H: the version.</summary>
        public int Number;

        /// <summary>C, and D (from its chunk's C): whether a save hook wrote the chunk.</summary>
        public bool SavedByHook;

        /// <summary>F: the error text (only when the reader decodes text). R, E: the run id.</summary>
        public string Text = string.Empty;
    }
}
