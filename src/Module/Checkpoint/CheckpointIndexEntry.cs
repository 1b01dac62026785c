namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>Where a done key's result is: a chunk file and the entry's position in it.</summary>
    public readonly struct CheckpointIndexEntry
    {
        internal CheckpointIndexEntry(string key, long chunk, int index, string chunkPath, bool savedByHook)
        {
            Key = key;
            Chunk = chunk;
            Index = index;
            ChunkPath = chunkPath;
            SavedByHook = savedByHook;
        }

        /// <summary>The item's key.</summary>
        public string Key { get; }

        /// <summary>The chunk number.</summary>
        public long Chunk { get; }

        /// <summary>The entry's position in the chunk (and in the lists the save hook was given).</summary>
        public int Index { get; }

        /// <summary>The chunk file's full path.</summary>
        public string ChunkPath { get; }

        /// <summary>Whether a save hook wrote the chunk (in its own format).</summary>
        public bool SavedByHook { get; }
    }
}
