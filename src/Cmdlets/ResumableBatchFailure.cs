using System;
using System.Collections.Generic;
using System.Management.Automation;
using ParallelMap.Engine.Checkpoint;

namespace ParallelMap.Commands
{
    /// <summary>A failed item of a resumable batch, as recorded.</summary>
    public sealed class ResumableBatchFailure
    {
        internal ResumableBatchFailure(CheckpointFailure f)
        {
            Key = f.Key;
            Error = f.ErrorText;
            Attempts = f.Attempts;
        }

        /// <summary>The item's key.</summary>
        public string Key { get; }

        /// <summary>The error text of its last attempt.</summary>
        public string Error { get; }

        /// <summary>The attempts made in the run that recorded it.</summary>
        public int Attempts { get; }
    }
}
