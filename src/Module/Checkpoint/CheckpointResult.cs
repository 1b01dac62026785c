namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>One saved result, read back from a checkpoint.</summary>
    public readonly struct CheckpointResult
    {
        internal CheckpointResult(string key, byte[] payload)
        {
            Key = key;
            Payload = payload;
        }

        /// <summary>The item's key.</summary>
        public string Key { get; }

        /// <summary>The result payload, as recorded.</summary>
        public byte[] Payload { get; }
    }
}
