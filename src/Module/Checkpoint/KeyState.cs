using System;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>Per-key state bits: the persisted ones come from the journal, the others belong to one writer session.</summary>
    [Flags]
    internal enum KeyState : byte
    {
        None = 0,

        /// <summary>An S, F or D record names the key.</summary>
        Seen = 1,

        /// <summary>The key's last outcome is a failure (cleared when it is done).</summary>
        Failed = 2,

        /// <summary>A D record names the key: terminal, whatever follows.</summary>
        Done = 4,

        /// <summary>Session only: the key was submitted (ShouldRun, RecordResult or RecordFailure) in this run.</summary>
        ThisRun = 8,

        /// <summary>Session only: a result or failure was recorded for the key in this run.</summary>
        Outcome = 16,
    }
}
