using System;
using System.Collections.Generic;
using System.Management.Automation;

namespace ParallelMap.Commands
{
    /// <summary>
    /// Why an item (or a runspace's start) failed: the error records that ended it, in order, and
    /// what the failed item had already written. The engine keeps no outputs for a failed
    /// attempt, so they travel here: the cmdlet decides what they become (Invoke-ParallelMap
    /// passes them on, as ForEach-Object -Parallel does; Start-ResumableBatch drops them, since
    /// a failed key has no result). A retried attempt's exception is never written, so its
    /// outputs never appear twice.
    /// </summary>
    internal sealed class ItemErrorsException : Exception
    {
        internal ItemErrorsException(IReadOnlyList<ErrorRecord> records, IReadOnlyList<object?>? outputs = null)
            : base(records[0].Exception?.Message ?? records[0].ToString(), records[0].Exception)
        {
            Records = records;
            Outputs = outputs ?? Array.Empty<object?>();
        }

        /// <summary>The records, each as PowerShell made it (its own ErrorId, exception, category and position).</summary>
        internal IReadOnlyList<ErrorRecord> Records { get; }

        /// <summary>What the item wrote before it failed (empty for a runspace's start).</summary>
        internal IReadOnlyList<object?> Outputs { get; }
    }
}
