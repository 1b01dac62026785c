using System;
using System.Collections.Generic;
using System.Management.Automation;
using ParallelMap.Engine.Checkpoint;

namespace ParallelMap.Commands
{
    /// <summary>
    /// <para type="synopsis">Shows the status of a resumable batch without running anything.</para>
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "ResumableBatch")]
    [OutputType(typeof(ResumableBatchStatus))]
    public sealed class GetResumableBatchCommand : PSCmdlet
    {
        /// <summary>The checkpoint folder(s).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[] Path { get; set; } = null!;

        /// <summary>Reads each checkpoint's summary and failures.</summary>
        protected override void ProcessRecord()
        {
            foreach (string p in Path)
            {
                string path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(p);
                try
                {
                    CheckpointSummary summary = CheckpointStore.ReadSummary(path);
                    var failed = new List<ResumableBatchFailure>();
                    foreach (CheckpointFailure f in CheckpointStore.ReadFailures(path)) failed.Add(new ResumableBatchFailure(f));
                    WriteObject(new ResumableBatchStatus(summary, failed));
                }
                catch (CheckpointException e)
                {
                    WriteError(CheckpointErrors.ToRecord(e, path));
                }
            }
        }
    }
}
