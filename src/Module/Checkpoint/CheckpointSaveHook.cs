using System.Collections.Generic;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>
    /// Saves one chunk of results in place of the store's own chunk writer. It runs on the thread
    /// that recorded the result that completed the chunk (or called Flush), never concurrently
    /// with itself. The keys are recorded done only after it returns; if it throws, none of them
    /// is. The lists are the hook's to keep.
    /// </summary>
    /// <param name="chunkPath">Where the chunk belongs; a name no run of this checkpoint has used or will use.
    /// If the hook leaves a file there, the store fsyncs it before recording the keys done.</param>
    /// <param name="results">The result payloads, in recording order.</param>
    /// <param name="keys">The keys, parallel to <paramref name="results"/>.</param>
    public delegate void CheckpointSaveHook(string chunkPath, IReadOnlyList<byte[]> results, IReadOnlyList<string> keys);
}
