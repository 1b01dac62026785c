using System.Collections.Generic;
using System.Management.Automation;
using ParallelMap.Engine.Checkpoint;

namespace ParallelMap.Commands
{
    /// <summary>
    /// <para type="synopsis">Streams the saved results (or the failures) of a resumable batch.</para>
    /// </summary>
    [Cmdlet(VerbsCommunications.Receive, "ResumableBatch", DefaultParameterSetName = ResultsSet)]
    [OutputType(typeof(object))]
    [OutputType(typeof(ResumableBatchFailure), ParameterSetName = new[] { FailedSet })]
    public sealed class ReceiveResumableBatchCommand : PSCmdlet
    {
        private const string ResultsSet = "Results";
        private const string FailedSet = "Failed";

        /// <summary>
        /// The checkpoint folder: also a string from the pipeline, or an object with a Path property
        /// (a batch's summary or status), or a DirectoryInfo (Get-Item) by its PSPath or FullName, as
        /// Get-ResumableBatch takes it.
        /// </summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("PSPath", "FullName")]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; } = null!;

        /// <summary>Only the results of these keys (in checkpoint order).</summary>
        [Parameter(ParameterSetName = ResultsSet)]
        [ValidateNotNullOrEmpty]
        public string[]? Key { get; set; }

        /// <summary>Emit each result as an object with Key and Result properties.</summary>
        [Parameter(ParameterSetName = ResultsSet)]
        public SwitchParameter IncludeKey { get; set; }

        /// <summary>Stream the failed items with their errors instead of the results.</summary>
        [Parameter(Mandatory = true, ParameterSetName = FailedSet)]
        public SwitchParameter Failed { get; set; }

        /// <summary>Streams results chunk by chunk; never holds them all in memory.</summary>
        protected override void ProcessRecord()
        {
            string path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
            try
            {
                if (Failed)
                {
                    foreach (CheckpointFailure f in CheckpointStore.ReadFailures(path)) WriteObject(new ResumableBatchFailure(f));
                    return;
                }

                IEnumerable<CheckpointResult> results = Key is null ? CheckpointStore.ReadResults(path) : CheckpointStore.ReadResults(path, Key);
                foreach (CheckpointResult r in results)
                {
                    List<object?> items = ResultSerializer.Deserialize(r.Payload, out string? computerName);

                    if (IncludeKey)
                    {
                        var o = new PSObject();
                        o.Properties.Add(new PSNoteProperty("Key", r.Key));
                        o.Properties.Add(new PSNoteProperty("Result", items.Count == 1 ? items[0] : items.ToArray()));

                        // The host that ran the key (Start-ResumableBatch -Session); null for this machine.
                        o.Properties.Add(new PSNoteProperty("ComputerName", computerName));
                        WriteObject(o);
                    }
                    else
                    {
                        foreach (object? o in items) WriteObject(o);
                    }
                }
            }
            catch (CheckpointException e)
            {
                ThrowTerminatingError(CheckpointErrors.ToRecord(e, path));
            }
        }
    }
}
