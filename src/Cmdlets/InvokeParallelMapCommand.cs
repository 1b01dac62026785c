using System.Management.Automation;

namespace ParallelMap.Commands
{
    /// <summary>
    /// <para type="synopsis">Runs a script block for each pipeline item on a pool of runspaces and streams the results.</para>
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "ParallelMap")]
    [OutputType(typeof(object))]
    public sealed class InvokeParallelMapCommand : ParallelCommandBase
    {
        /// <summary>The script to run for each item; <c>$_</c> and <c>$PSItem</c> are the item.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNull]
        public ScriptBlock ScriptBlock { get; set; } = null!;

        /// <summary>The items, usually from the pipeline.</summary>
        [Parameter(ValueFromPipeline = true)]
        public PSObject? InputObject { get; set; }

        /// <summary>Keep the input order in the output (a bounded reorder window; a slow item holds back later ones).</summary>
        [Parameter]
        public SwitchParameter Ordered { get; set; }

        private protected override ScriptBlock ItemScriptBlock => ScriptBlock;

        private protected override bool KeepOrder => Ordered;

        /// <summary>Hands the item to the runspaces; outputs that are ready are written meanwhile.</summary>
        protected override void ProcessRecord()
        {
            // Without pipeline input and without -InputObject there is nothing to map.
            if (!ReceivesInput) return;
            object? item = InputObject;
            if (TryTakeInput(ref item)) SubmitItem(item);
        }

        /// <summary>Waits for the remaining items and runs the cleanup.</summary>
        protected override void EndProcessing() => FinishRun();
    }
}
