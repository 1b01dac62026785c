using System.Management.Automation;

namespace ParallelMap.Commands
{
    /// <summary>
    /// <para type="synopsis">Lists the open runspace pools of this process: size, open, idle and busy runspaces, items run, when made.</para>
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "ParallelPool")]
    [OutputType(typeof(ParallelPool))]
    public sealed class GetParallelPoolCommand : PSCmdlet
    {
        /// <summary>Only the pools with these ids; an id no open pool has is an error.</summary>
        [Parameter(Position = 0)]
        [ValidateNotNullOrEmpty]
        public int[]? Id { get; set; }

        /// <summary>Writes the pools, oldest first.</summary>
        protected override void EndProcessing()
        {
            var pools = PoolRegistry.All();
            if (Id is null)
            {
                foreach (ParallelPool p in pools) WriteObject(p);
                return;
            }

            foreach (int id in Id)
            {
                ParallelPool? found = pools.Find(p => p.Id == id);
                if (found is not null)
                {
                    WriteObject(found);
                }
                else
                {
                    WriteError(new ErrorRecord(new ItemNotFoundException(UserText.Format(Strings.PoolNotFound, id)), ErrorIds.PoolNotFoundId, ErrorCategory.ObjectNotFound, id));
                }
            }
        }
    }
}
