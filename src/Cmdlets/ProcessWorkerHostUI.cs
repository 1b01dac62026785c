using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Security;

namespace ParallelMap.Commands
{
    /// <summary>
    /// The UI of <see cref="ProcessWorkerHost"/>: a worker process's pipeline may call its host's
    /// UI (the remote client runs those calls here), and a host without one fails the whole
    /// pipeline. Writes are dropped (the records travel in their own streams); prompts are refused,
    /// as nobody can answer them, like a runspace's missing host does in-process.
    /// </summary>
    internal sealed class ProcessWorkerHostUI : PSHostUserInterface
    {
        /// <inheritdoc />
        public override PSHostRawUserInterface? RawUI => null;

        /// <inheritdoc />
        public override Dictionary<string, PSObject> Prompt(string caption, string message, Collection<FieldDescription> descriptions) => throw NoPrompt();

        /// <inheritdoc />
        public override int PromptForChoice(string caption, string message, Collection<ChoiceDescription> choices, int defaultChoice) => throw NoPrompt();

        /// <inheritdoc />
        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) => throw NoPrompt();

        /// <inheritdoc />
        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName, PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options) => throw NoPrompt();

        /// <inheritdoc />
        public override string ReadLine() => throw NoPrompt();

        /// <inheritdoc />
        public override SecureString ReadLineAsSecureString() => throw NoPrompt();

        /// <inheritdoc />
        public override void Write(string value)
        {
        }

        /// <inheritdoc />
        public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value)
        {
        }

        /// <inheritdoc />
        public override void WriteDebugLine(string message)
        {
        }

        /// <inheritdoc />
        public override void WriteErrorLine(string value)
        {
        }

        /// <inheritdoc />
        public override void WriteLine(string value)
        {
        }

        /// <inheritdoc />
        public override void WriteProgress(long sourceId, ProgressRecord record)
        {
        }

        /// <inheritdoc />
        public override void WriteVerboseLine(string message)
        {
        }

        /// <inheritdoc />
        public override void WriteWarningLine(string message)
        {
        }

        // A HostException, as a runspace without a host raises, so that the refusal is reported
        // as ItemCannotPrompt the same way in either isolation (PromptRefusal).
        private static HostException NoPrompt() =>
            new HostException("A worker process has no user to prompt.", null, "HostFunctionNotImplemented", ErrorCategory.NotImplemented);
    }
}
