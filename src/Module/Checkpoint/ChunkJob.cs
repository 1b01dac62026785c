namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>A chunk on its way to disk: its number and path, and its keys with their payloads.</summary>
    internal sealed class ChunkJob
    {
        internal ChunkJob(long number, string path, string[] keys, byte[][] payloads)
        {
            Number = number;
            Path = path;
            Keys = keys;
            Payloads = payloads;
        }

        internal long Number { get; }

        internal string Path { get; }

        internal string[] Keys { get; }

        internal byte[][] Payloads { get; }
    }
}
