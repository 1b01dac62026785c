using System;
using System.Management.Automation;
using ParallelMap.Engine.Checkpoint;

namespace ParallelMap.Commands
{
    // -Restart: discarding the checkpoint before the run, only once it is safe and confirmed.
    public sealed partial class StartResumableBatchCommand
    {
        /// <summary>
        /// Discards the checkpoint for -Restart; false when the user declined. Refused before
        /// asking: a folder that is not only a checkpoint, or one in use. Discarding recorded
        /// results always asks, unless -Force or -Confirm:$false: a scheduled task that restarts
        /// on purpose says -Force; a run that cannot ask fails (<see cref="AskRestart"/>).
        /// </summary>
        private bool DiscardForRestart()
        {
            StoreCall(() => CheckpointStore.CheckDiscardable(_path));
            if (!(Force || ConfirmDeclinedExplicitly || AskRestart())) return false;
            StoreCall(() => CheckpointStore.Discard(_path));
            return true;
        }

        /// <summary>
        /// Asks before discarding recorded results. A session that cannot ask fails with
        /// RestartNotConfirmed, never with the host's own error: under -NonInteractive PowerShell
        /// throws InvalidOperation, and the console host with stdin at its end (cron, or
        /// stdin from /dev/null) a bare NullReferenceException, neither of which tells the user about -Force.
        /// </summary>
        private bool AskRestart()
        {
            try
            {
                return ShouldContinue(UserText.Format(Strings.RestartQuery, _path), Strings.RestartAction);
            }
            catch (Exception e) when (!(e is PipelineStoppedException))
            {
                ThrowTerminatingError(new ErrorRecord(
                    new InvalidOperationException(UserText.Format(Strings.RestartNotConfirmed, _path, e.Message), e),
                    ErrorIds.RestartNotConfirmedId,
                    ErrorCategory.InvalidOperation,
                    _path));
                return false;
            }
        }
    }
}
