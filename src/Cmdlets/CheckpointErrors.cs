using System.Management.Automation;
using ParallelMap.Engine.Checkpoint;

namespace ParallelMap.Commands
{
    /// <summary>Maps the store's errors to PowerShell error records with the same ErrorIds.</summary>
    internal static class CheckpointErrors
    {
        internal static ErrorRecord ToRecord(CheckpointException e, string path)
        {
            ErrorCategory category = e.ErrorId switch
            {
                CheckpointErrorIds.CheckpointLocked => ErrorCategory.ResourceBusy,
                CheckpointErrorIds.CheckpointCorrupt => ErrorCategory.InvalidData,
                CheckpointErrorIds.CheckpointVersionUnsupported => ErrorCategory.InvalidData,
                CheckpointErrorIds.CheckpointFingerprintMismatch => ErrorCategory.InvalidOperation,
                CheckpointErrorIds.CheckpointNotWritable => ErrorCategory.PermissionDenied,
                CheckpointErrorIds.CheckpointNotFound => ErrorCategory.ObjectNotFound,
                CheckpointErrorIds.DuplicateKey => ErrorCategory.InvalidData,
                CheckpointErrorIds.CheckpointFolderNotEmpty => ErrorCategory.InvalidOperation,
                _ => ErrorCategory.NotSpecified,
            };
            return new ErrorRecord(e, e.ErrorId, category, (object?)e.Holder ?? path);
        }
    }
}
