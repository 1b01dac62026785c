namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>A chunk on its way to disk: its number and path, and its keys with their payloads.</summary>
    internal sealed class ChunkJob
    {
        internal ChunkJob(long number, string path, string[] keys, byte[][] payloads, ResultSpill?[] spills)
        {
            Number = number;
            Path = path;
            Keys = keys;
            Payloads = payloads;
            Spills = spills;
        }

        internal long Number { get; }

        internal string Path { get; }

        internal string[] Keys { get; }

        /// <summary>The payloads; an entry held by a spill has an empty one here.</summary>
        internal byte[][] Payloads { get; }

        /// <summary>Parallel to <see cref="Payloads"/>: the spill that holds an entry's payload, or null.</summary>
        internal ResultSpill?[] Spills { get; }
    }
}
