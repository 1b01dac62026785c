using System;
using System.Management.Automation;
using System.Management.Automation.Host;

namespace ParallelMap.Commands
{
    /// <summary>
    /// An item that asks the user something (a confirmation under -Confirm or a high
    /// ConfirmImpact, Read-Host, Get-Credential, $Host.UI.PromptForChoice) cannot be answered: a
    /// runspace has no user, and the caller's host belongs to the pipeline thread. PowerShell
    /// refuses the prompt with a HostException whose text says only that the host does not
    /// support user interaction, naming neither why nor what to do. Such an error is written as
    /// one of ParallelMap's own, <c>ItemCannotPrompt</c>, saying both; the refused prompt's
    /// exception is its InnerException. The prompt is never answered for the user: a confirmation
    /// refused is an action not taken.
    /// </summary>
    internal static class PromptRefusal
    {
        /// <summary>The ItemCannotPrompt record for a refused prompt, or null when the record is no such refusal.</summary>
        /// <param name="record">The record as the worker produced it (live or deserialized).</param>
        /// <param name="input">The item that was running.</param>
        internal static ErrorRecord? For(ErrorRecord record, object? input)
        {
            if (!IsRefusedPrompt(record)) return null;
            string hostSaid = (HostExceptionIn(record.Exception) ?? record.Exception)?.Message ?? record.ToString();
            var error = new PSInvalidOperationException(UserText.Format(Strings.ItemCannotPrompt, hostSaid), record.Exception);
            return new ErrorRecord(error, ErrorIds.ItemCannotPromptId, ErrorCategory.NotImplemented, input ?? record.TargetObject)
            {
                ErrorDetails = new ErrorDetails(error.Message) { RecommendedAction = Strings.ItemCannotPromptAction },
            };
        }

        /// <summary>
        /// A prompt refused by a host without a user: HostException in the exception chain (a
        /// cmdlet's or $PSCmdlet.ShouldProcess's confirmation, $Host.UI), or its ErrorIds, which
        /// survive the serialization of a process or remote worker's record (Read-Host reports
        /// HostFunctionNotImplemented).
        /// </summary>
        private static bool IsRefusedPrompt(ErrorRecord record)
        {
            string id = record.FullyQualifiedErrorId ?? string.Empty;
            return id.StartsWith("HostException", StringComparison.Ordinal) || id.StartsWith("HostFunctionNotImplemented", StringComparison.Ordinal)
                || HostExceptionIn(record.Exception) is not null;
        }

        /// <summary>The HostException in an exception chain (ShouldProcess's comes wrapped in a MethodInvocationException).</summary>
        private static HostException? HostExceptionIn(Exception? e)
        {
            for (; e is not null; e = e.InnerException)
            {
                if (e is HostException host) return host;
            }

            return null;
        }
    }
}
