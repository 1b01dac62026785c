using System;
using System.Globalization;
using System.Management.Automation.Host;

namespace ParallelMap.Commands
{
    /// <summary>
    /// The host a worker process's pipeline reports to. Its one job: 'exit N' in the child's
    /// pipeline reaches the client as a SetShouldExit(N) host call, the only place that still knows
    /// N once the pipeline has unwound. Its UI drops writes and refuses prompts.
    /// </summary>
    internal sealed class ProcessWorkerHost : PSHost
    {
        private readonly Guid _id = Guid.NewGuid();
        private readonly ProcessWorkerHostUI _ui = new ProcessWorkerHostUI();
        private int _exitCode;
        private volatile bool _exitRequested;

        /// <summary>True once the child's script called exit; <see cref="ExitCode"/> is then its code.</summary>
        internal bool ExitRequested => _exitRequested;

        internal int ExitCode => _exitCode;

        /// <inheritdoc />
        public override string Name => "ParallelMapWorker";

        /// <inheritdoc />
        public override Version Version => new Version(1, 0);

        /// <inheritdoc />
        public override Guid InstanceId => _id;

        /// <inheritdoc />
        public override PSHostUserInterface UI => _ui;

        /// <inheritdoc />
        public override CultureInfo CurrentCulture => CultureInfo.CurrentCulture;

        /// <inheritdoc />
        public override CultureInfo CurrentUICulture => CultureInfo.CurrentUICulture;

        /// <inheritdoc />
        public override void SetShouldExit(int exitCode)
        {
            _exitCode = exitCode;
            _exitRequested = true;
        }

        /// <inheritdoc />
        public override void EnterNestedPrompt() => throw new NotSupportedException();

        /// <inheritdoc />
        public override void ExitNestedPrompt() => throw new NotSupportedException();

        /// <inheritdoc />
        public override void NotifyBeginApplication()
        {
        }

        /// <inheritdoc />
        public override void NotifyEndApplication()
        {
        }
    }
}
