namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>A key whose last outcome is a failure.</summary>
    public sealed class CheckpointFailure
    {
        internal CheckpointFailure(string key, string errorText, int attempts)
        {
            Key = key;
            ErrorText = errorText;
            Attempts = attempts;
        }

        /// <summary>The item's key.</summary>
        public string Key { get; }

        /// <summary>The error text recorded with the failure.</summary>
        public string ErrorText { get; }

        /// <summary>The attempts recorded with the failure.</summary>
        public int Attempts { get; }
    }
}
