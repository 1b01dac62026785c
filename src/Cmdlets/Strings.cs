using System.Globalization;

namespace ParallelMap.Commands
{
    /// <summary>Every message and ErrorId the cmdlets show, in one place. ErrorIds are stable: scripts match on them.</summary>
    internal static class Strings
    {
        // ErrorIds
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

        // Messages
        internal const string ItemCannotPrompt = "The item asked for an answer (a confirmation, Read-Host, a credential or a choice), which no one can give inside a parallel runspace, so it was refused and nothing it would have confirmed was done. The host said: {0}";
        internal const string ItemCannotPromptAction = "Give the answer up front: -Confirm:$false or -Force for a confirmation (or $ConfirmPreference = 'None' in the script block), a parameter value instead of Read-Host, a credential passed in with -Variable or $using:.";
        internal const string EmptyScriptBlock = "The script block is empty; give the script to run for each item.";
        internal const string UnsupportedScriptBlock = "The script block cannot be run in parallel: its syntax tree is a {0}, where a script block or a function was expected.";
        internal const string ModuleNotFound = "The module '{0}' was not found: it is neither a path nor a module name that Get-Module -ListAvailable knows.";
        internal const string FunctionNotFound = "The function '{0}' is not defined in the calling session.";
        internal const string VariableNameReserved = "The variable name '{0}' is reserved: it is an automatic variable, or begins with the module's private prefix '__pm'.";
        internal const string VariableNameInvalid = "The variable name '{0}' is not valid for -Variable: give a plain name, without a scope or drive such as 'global:' or 'env:', and not blank.";
        internal const string UsingVariableNotDefined = "The variable '$using:{0}' refers to '${0}', which is not defined in the calling scope.";
        internal const string NestedScriptBlock = "{0} holds a script block at {1}. A script block is bound to the runspace that made it and must not run on the worker threads: one given on its own ($using:f, -Variable @{{ f = $f }}, or piped in) is rebound to each runspace, but one inside a hashtable, an array or an object cannot be without copying a value that is shared by reference. Pass the script block on its own, or its text ($f.ToString()) and make it with [scriptblock]::Create in the script.";
        internal const string PipedItem = "The piped item";
        internal const string InitializationFailed = "The initialization of a runspace failed: {0}";
        internal const string CleanupFailed = "The cleanup of a runspace failed: {0}";
        internal const string WorkerFailed = "A runspace failed outside any item: {0}";
        internal const string BeginBlockFailed = "The script block's begin {{}} block failed, so no item could run in this runspace: {0}";
        internal const string SeveralBlocksWithInput = "Several script blocks run once each and take no pipeline input; give one script block to run it for each item.";
        internal const string CheckpointParentMissing = "The checkpoint folder '{0}' cannot be made: its parent folder '{1}' does not exist.";
        internal const string RestartAction = "Discard the checkpoint and start the batch over";
        internal const string RunAction = "Run the batch, checkpointing to this folder";
        internal const string RestartQuery = "Discard every result recorded in '{0}' and start the batch over?";
        internal const string CheckpointLockedRestart = "The checkpoint '{0}' cannot be discarded: a running batch holds it ({1}).";
        internal const string TookOverStaleLock = "Took over the stale lock of a process that is gone: {0}";
        internal const string DroppedTornTail = "The journal's last record was torn by a crash; it was dropped (that item runs again).";
        internal const string KeyNullOrEmpty = "The item's key is null or empty; every item of a resumable batch needs a key.";
        internal const string KeyRequired = "The item is not a string, so it is not its own key: give -KeyProperty or -KeyScript.";
        internal const string KeyScriptFailed = "The -KeyScript failed for this item, so it has no key and was not run: {0}";
        internal const string RestartNotACheckpoint = "-Restart refuses to delete '{0}': it is not a checkpoint (it has no manifest, but holds '{1}'). Check the path.";
        internal const string RestartForeignEntry = "-Restart refuses to delete '{0}': besides the checkpoint it holds '{1}', which the checkpoint did not make. Move that out first.";
        internal const string ItemExited = "The script ended the item with 'exit {0}': a non-zero exit code fails the item.";
        internal const string RetryingItem = "Item '{0}': attempt {1} failed ({2}); it was tried again.";
        internal const string ProgressActivity = "{0}";
        internal const string ProgressStatus = "{0} of {1} done, {2} running, {3:0.#}/s";
        internal const string ProgressStatusNoTotal = "{0} done, {1} running, {2:0.#}/s";

        // Issue 10: messages a user can act on
        internal const string MandatoryParameterNotBoundId = "MandatoryParameterNotBound";
        internal const string UsingInKeyScriptId = "UsingInKeyScript";
        internal const string MandatoryParameterNotBound = "The script block declares the mandatory parameter {0}, which no item can bind: each item is pipeline input ($_), so only a parameter with ValueFromPipeline or ValueFromPipelineByPropertyName receives it. Make the parameter optional, or let it take the item from the pipeline.";
        internal const string UsingInKeyScript = "The -KeyScript uses '$using:{0}', but it runs in the calling scope on the caller's thread, not in a runspace: write '${0}' instead. Nothing was run.";
        internal const string EndBlockFailed = "The script block's end {{}} block failed in a runspace: {0}";
        internal const string ItemTimedOutNamed = "The item '{0}' did not finish within the -TimeoutSeconds limit of {1} s; its runspace was stopped and replaced.";
        internal const string BlockFailed = "Script block {0} of {1} ({2}) failed: {3}";
        internal const string KeyInvalid = "The item's key cannot be recorded in the checkpoint: {0}";
        internal const string FingerprintMismatch = "The checkpoint '{0}' was made by a different batch: the script block, -KeyProperty or -KeyScript changed in a way that changes what it does (comments and white space do not count). To resume anyway, running the items left with this script and keeping the results already saved, add -Force; to discard the checkpoint's results and start over, add -Restart.";

        internal static string Format(string format, params object?[] args) => string.Format(CultureInfo.CurrentCulture, format, args);
    }
}
