using System;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Reflection;

namespace ParallelMap.Commands
{
    /// <summary>
    /// Makes a runspace's error record fit to be written by the cmdlet without losing its
    /// identity: the same exception, ErrorId, category and InvocationInfo (so its
    /// FullyQualifiedErrorId still names the command that failed, and the error view shows the
    /// failing line in the script block), with the item as TargetObject only where the record
    /// has none. This is how PowerShell's own jobs and ForEach-Object -Parallel forward a
    /// record (PSStreamObject.WriteStreamObject).
    /// </summary>
    internal static class ErrorForwarding
    {
        // Both members are internal to System.Management.Automation (in Windows PowerShell 5.1
        // and PowerShell 7 alike) and have no public equivalent: WriteError otherwise replaces
        // the record's InvocationInfo by the cmdlet's own, which renames its
        // FullyQualifiedErrorId and moves its position to the 'Invoke-ParallelMap {' line.
        // Without them a record keeps less (the caller's position; no target added) but is
        // still written.
        private static readonly PropertyInfo? s_preserveInvocationInfoOnce =
            typeof(ErrorRecord).GetProperty("PreserveInvocationInfoOnce", BindingFlags.Instance | BindingFlags.NonPublic);

        private static readonly MethodInfo? s_setTargetObject =
            typeof(ErrorRecord).GetMethod("SetTargetObject", BindingFlags.Instance | BindingFlags.NonPublic, null, new[] { typeof(object) }, null);

        /// <summary>
        /// The record to write for an error of the item <paramref name="input"/>: a copy, with
        /// the input as target where the record names none, and marked so that the next
        /// WriteError keeps its InvocationInfo. Call it right before WriteError.
        /// </summary>
        /// <param name="record">The record as the runspace produced it.</param>
        /// <param name="input">The item that was running.</param>
        /// <param name="userBlock">The user's script block that ran the item, where a record placed at its call is shown.</param>
        internal static ErrorRecord ForCaller(ErrorRecord record, object? input, IScriptExtent? userBlock)
        {
            // The one record that does not keep its identity: a prompt the runspace could not show.
            if (PromptRefusal.For(record, input) is ErrorRecord refused) return refused;

            // A copy: the runspace's record stays as it was (it is also in that runspace's $Error),
            // and one record written twice would have its InvocationInfo replaced the second time.
            var copy = new ErrorRecord(record, null);
            if (input is not null && HasNoTarget(record) && s_setTargetObject is not null)
            {
                s_setTargetObject.Invoke(copy, new[] { input });
            }

            // PowerShell places a Write-Error at the call of the script that wrote it, which for an
            // item is a line of the module's own driver: show the user's script block instead, the
            // call site as ForEach-Object would show it.
            if (userBlock is not null && copy.InvocationInfo?.Line is string line && line.IndexOf(ScriptPreparer.BlockMarker, StringComparison.Ordinal) >= 0)
            {
                copy.InvocationInfo.DisplayScriptPosition = userBlock;
            }

            // A record of ParallelMap's own (ItemExited) has no InvocationInfo: WriteError gives it
            // the cmdlet's, the place where ParallelMap decided.
            if (copy.InvocationInfo is not null) s_preserveInvocationInfoOnce?.SetValue(copy, true);
            return copy;
        }

        /// <summary>
        /// True when the record names no target of its own. 'throw "text"' makes its message the
        /// target as well; that names nothing (the text is the exception's message, so nothing
        /// is lost), and the item is the better target.
        /// </summary>
        private static bool HasNoTarget(ErrorRecord record)
        {
            object? target = record.TargetObject;
            if (target is PSObject wrapped) target = wrapped.BaseObject;
            return target is null
                || (target is string text && record.Exception is RuntimeException ex && ex.GetType() == typeof(RuntimeException)
                    && ex.WasThrownFromThrowStatement && string.Equals(text, ex.Message, StringComparison.Ordinal));
        }
    }
}
