namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>What <see cref="CheckpointStore.Open"/> does about an existing or missing checkpoint.</summary>
    public enum CheckpointOpenMode
    {
        /// <summary>Resume the checkpoint if it exists, make it otherwise.</summary>
        OpenOrCreate = 0,

        /// <summary>Make a new checkpoint; fail with <see cref="CheckpointErrorIds.CheckpointExists"/> if one exists.</summary>
        CreateNew = 1,

        /// <summary>Resume an existing checkpoint; fail with <see cref="CheckpointErrorIds.CheckpointNotFound"/> if there is none.</summary>
        OpenExisting = 2,
    }
}
