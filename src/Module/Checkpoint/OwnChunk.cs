namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>A chunk the journal's C records say the store's own writer saved: its number and entry count.</summary>
    internal readonly struct OwnChunk
    {
        public OwnChunk(long number, int count)
        {
            Number = number;
            Count = count;
        }

        public long Number { get; }

        public int Count { get; }
    }
}
