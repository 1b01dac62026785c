namespace ParallelMap.Commands
{
    /// <summary>
    /// Every ErrorId ParallelMap's cmdlets write (FullyQualifiedErrorId's first part). They are
    /// stable: scripts match on them, so one is never renamed. The messages are in Strings.resx.
    /// </summary>
    internal static class ErrorIds
    {
        // Runs, items and resumable batches
        internal const string EmptyScriptBlockId = "EmptyScriptBlock";
        internal const string UnsupportedScriptBlockId = "UnsupportedScriptBlock";
        internal const string ModuleNotFoundId = "ModuleNotFound";
        internal const string FunctionNotFoundId = "FunctionNotFound";
        internal const string VariableNameReservedId = "VariableNameReserved";
        internal const string VariableNameInvalidId = "VariableNameInvalid";
        internal const string UsingVariableNotDefinedId = "UsingVariableNotDefined";
        internal const string InitializationFailedId = "InitializationFailed";
        internal const string ItemFailedId = "ItemFailed";
        internal const string ItemTimedOutId = "ItemTimedOut";
        internal const string ItemExitedId = "ItemExited";
        internal const string ItemCannotPromptId = "ItemCannotPrompt";
        internal const string CleanupFailedId = "CleanupFailed";
        internal const string WorkerFailedId = "WorkerFailed";
        internal const string SeveralBlocksWithInputId = "SeveralScriptBlocksWithInput";
        internal const string CheckpointPathNotFoundId = "CheckpointPathNotFound";
        internal const string KeyNullOrEmptyId = "KeyNullOrEmpty";
        internal const string KeyRequiredId = "KeyRequired";
        internal const string KeyInvalidId = "KeyInvalid";
        internal const string KeyScriptFailedId = "KeyScriptFailed";
        internal const string NestedScriptBlockId = "NestedScriptBlockNotSupported";
        internal const string MandatoryParameterNotBoundId = "MandatoryParameterNotBound";
        internal const string UsingInKeyScriptId = "UsingInKeyScript";
        internal const string RestartNotConfirmedId = "RestartNotConfirmed";

        // Runspace pools
        internal const string PoolSettingConflictId = "PoolSettingConflict";
        internal const string PoolClosedId = "PoolClosed";
        internal const string PoolNotFoundId = "PoolNotFound";

        // Worker processes (-Isolation Process)
        internal const string WorkerProcessExitedId = "WorkerProcessExited";
        internal const string VariableNotSerializableId = "VariableNotSerializable";
        internal const string ProcessIsolationRequiredId = "ProcessIsolationRequired";

        // Remote sessions (-Session)
        internal const string SessionNotUsableId = "SessionNotUsable";
        internal const string AllSessionsLostId = "AllSessionsLost";
        internal const string SessionParameterConflictId = "SessionParameterConflict";
        internal const string WorkerLostId = "RemoteWorkerLost";
    }
}
