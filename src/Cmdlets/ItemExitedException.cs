using System;

namespace ParallelMap.Commands
{
    /// <summary>An item's script ended with <c>exit</c> and a non-zero code (ErrorId ItemExited); the item failed.</summary>
    public sealed class ItemExitedException : Exception
    {
        internal ItemExitedException(string message, int exitCode, Exception inner)
            : base(message, inner) => ExitCode = exitCode;

        /// <summary>The code given to <c>exit</c>.</summary>
        public int ExitCode { get; }
    }
}
