using System.Collections.Generic;
using System.Management.Automation;

namespace ParallelMap.Commands
{
    /// <summary>
    /// <para type="synopsis">Runs a script block with a runspace pool and closes the pool afterwards, whatever ends the block (as C#'s using, Python's with).</para>
    /// </summary>
    [Cmdlet(VerbsOther.Use, "ParallelPool")]
    [OutputType(typeof(object))]
    public sealed class UseParallelPoolCommand : PSCmdlet
    {
        /// <summary>The pool, from New-ParallelPool; closed when the script block ends.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNull]
        public ParallelPool Pool { get; set; } = null!;

        /// <summary>The code that uses the pool; it receives the pool as <c>$_</c> and as its first argument.</summary>
        [Parameter(Mandatory = true, Position = 1)]
        [ValidateNotNull]
        public ScriptBlock ScriptBlock { get; set; } = null!;

        /// <summary>Runs the script block (in a child scope of where it was written), writes its output, then closes the pool.</summary>
        protected override void EndProcessing()
        {
            try
            {
                var underscore = new List<PSVariable> { new PSVariable("_", Pool) };
                foreach (PSObject o in ScriptBlock.InvokeWithContext(null, underscore, Pool))
                {
                    WriteObject(o);
                }
            }
            finally
            {
                // Also after an error or Ctrl-C: the pool's runspaces never outlive the block.
                foreach (object o in Pool.Close())
                {
                    if (o is ErrorRecord e) WriteError(new ErrorRecord(e.Exception, ErrorIds.CleanupFailedId, ErrorCategory.CloseError, Pool));
                }
            }
        }
    }
}
