using System.Management.Automation;

namespace ParallelMap.Commands
{
    /// <summary>
    /// <para type="synopsis">Closes runspace pools: idle runspaces close now (their cleanup script runs), busy ones when their call ends.</para>
    /// </summary>
    [Cmdlet(VerbsCommon.Remove, "ParallelPool", DefaultParameterSetName = PoolSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(object))]
    public sealed class RemoveParallelPoolCommand : PSCmdlet
    {
        private const string PoolSet = "Pool";
        private const string IdSet = "Id";

        /// <summary>The pools to close, from New-ParallelPool or Get-ParallelPool.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = PoolSet)]
        [ValidateNotNull]
        public ParallelPool[] Pool { get; set; } = null!;

        /// <summary>The ids of the pools to close.</summary>
        [Parameter(Mandatory = true, ParameterSetName = IdSet)]
        [ValidateNotNullOrEmpty]
        public int[] Id { get; set; } = null!;

        /// <summary>Closes each pool; what the cleanup scripts write is written here (outputs, and errors as CleanupFailed).</summary>
        protected override void ProcessRecord()
        {
            if (ParameterSetName == IdSet)
            {
                var pools = PoolRegistry.All();
                foreach (int id in Id)
                {
                    ParallelPool? found = pools.Find(p => p.Id == id);
                    if (found is null)
                    {
                        WriteError(new ErrorRecord(new ItemNotFoundException(UserText.Format(Strings.PoolNotFound, id)), ErrorIds.PoolNotFoundId, ErrorCategory.ObjectNotFound, id));
                        continue;
                    }

                    Close(found);
                }

                return;
            }

            foreach (ParallelPool p in Pool) Close(p);
        }

        private void Close(ParallelPool pool)
        {
            if (!ShouldProcess(pool.ToString(), Strings.RemoveAction)) return;
            foreach (object o in pool.Close())
            {
                switch (o)
                {
                    case ErrorRecord e:
                        WriteError(new ErrorRecord(e.Exception, ErrorIds.CleanupFailedId, ErrorCategory.CloseError, pool));
                        break;
                    case System.Exception ex:
                        WriteError(new ErrorRecord(ex, ErrorIds.CleanupFailedId, ErrorCategory.CloseError, pool));
                        break;
                    default:
                        WriteObject(o);
                        break;
                }
            }
        }
    }
}
