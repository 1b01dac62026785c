using System;

namespace ParallelMap.Commands
{
    /// <summary>An item failed because its worker process ended under it (killed, crashed, or the script's 'exit').</summary>
    internal sealed class ProcessWorkerExitedException : Exception
    {
        internal ProcessWorkerExitedException(int processId, string how)
            : base(UserText.Format(Strings.WorkerProcessExited, processId, how))
        {
        }
    }
}
