using System;
using System.Management.Automation;

namespace ParallelMap.Commands
{
    /// <summary>How an item or a user block ended, as the error record the caller gets (or none, for success).</summary>
    internal static class ItemEndings
    {
        /// <summary>The error record of a throw in the user's end {} block, with the thrown message (the original exception inside).</summary>
        internal static ErrorRecord EndBlockFailure(Exception e)
        {
            ErrorRecord? inner = (e as IContainsErrorRecord)?.ErrorRecord;
            string message = inner?.Exception?.Message ?? e.Message;
            var record = new ErrorRecord(new InvalidOperationException(UserText.Format(Strings.EndBlockFailed, message), e), ErrorIds.CleanupFailedId, inner?.CategoryInfo.Category ?? ErrorCategory.NotSpecified, inner?.TargetObject);
            return record;
        }

        /// <summary>What an exception that escaped the item's guard means for the item: null for success.</summary>
        internal static ErrorRecord? EscapedFailure(Exception ex, object? input)
        {
            // A labelled 'break' or 'continue' whose label no loop has ends the item, as an
            // unlabelled one does (the one-pass loop around the item's code takes those).
            string kind = ex.GetType().Name;
            if (kind == "BreakException" || kind == "ContinueException") return null;
            if (kind == "ExitException")
            {
                // 'exit' ends the item's script, as in a script file: 0 (or none) is success.
                object? code = ex.GetType().GetProperty("Argument")?.GetValue(ex);
                if (code is null || !LanguagePrimitives.TryConvertTo(code, out int exitCode) || exitCode == 0) return null;
                return new ErrorRecord(new ItemExitedException(UserText.Format(Strings.ItemExited, exitCode), exitCode, ex), ErrorIds.ItemExitedId, ErrorCategory.NotSpecified, input);
            }

            return (ex as IContainsErrorRecord)?.ErrorRecord ?? new ErrorRecord(ex, ErrorIds.ItemFailedId, ErrorCategory.NotSpecified, input);
        }
    }
}
