namespace ParallelMap.Commands
{
    /// <summary>The messages and ErrorIds of process isolation (kept apart from <see cref="Strings"/>, which other work edits).</summary>
    internal static class ProcessStrings
    {
        internal const string WorkerProcessExitedId = "WorkerProcessExited";
        internal const string VariableNotSerializableId = "VariableNotSerializable";
        internal const string ProcessIsolationRequiredId = "ProcessIsolationRequired";

        internal const string WorkerProcessExited = "The worker process (PID {0}) ended while running this item: {1}. A new worker process replaces it.";
        internal const string ExitCode = "exit code {0}";
        internal const string ExitSignal = "exit code {0} (killed by signal {1}{2})";
        internal const string ScriptExit = "the script called 'exit {0}', which ends its worker process";
        internal const string ConnectionBroken = "its connection broke ({0})";
        internal const string VariableNotSerializable = "The -Variable '{0}' holds a {1}, a live object that cannot be copied into a worker process (with -Isolation Process, values cross serialized). Pass the data it stands for, or use -Isolation Runspace.";
        internal const string ProcessIsolationRequired = "-{0} applies to worker processes only: add -Isolation Process.";
        internal const string ProcessEnded = "The worker process ended.";
        internal const string DriverNotReady = "The worker process did not start its item pipeline: {0}";
    }
}
