using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using ParallelMap.Engine;

namespace ParallelMap.Commands
{
    /// <summary>
    /// <para type="synopsis">Runs several script blocks at once, or one script block per pipeline item, for their side effects.</para>
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "ParallelRun")]
    [OutputType(typeof(ParallelRunSummary))]
    public sealed class InvokeParallelRunCommand : ParallelCommandBase
    {
        private readonly Stopwatch _clock = new Stopwatch();
        private long _succeeded;
        private long _failed;
        private long _notRun;
        private long _total;
        private bool _blocksMode;

        /// <summary>The script blocks: several run once each; one runs for each pipeline item.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public ScriptBlock[] ScriptBlock { get; set; } = null!;

        /// <summary>The items, usually from the pipeline; each runs the script block once.</summary>
        [Parameter(ValueFromPipeline = true)]
        public PSObject? InputObject { get; set; }

        /// <summary>Return a summary (succeeded, failed, elapsed) at the end.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        private protected override ScriptBlock ItemScriptBlock => ScriptBlock[0];

        private protected override string PrepareItemScript(Dictionary<string, object?> usingValues)
        {
            bool hasInput = ReceivesInput;
            if (hasInput && ScriptBlock.Length > 1)
            {
                throw new CommandErrorException(new ErrorRecord(new ArgumentException(Strings.SeveralBlocksWithInput), ErrorIds.SeveralBlocksWithInputId, ErrorCategory.InvalidArgument, ScriptBlock));
            }

            if (hasInput) return base.PrepareItemScript(usingValues);

            // Several script blocks: each becomes a function of every runspace, and the items are
            // their numbers, so each block is parsed once per runspace and runs in its own scope.
            _blocksMode = true;
            _blocks = new List<string>();
            foreach (ScriptBlock sb in ScriptBlock)
            {
                // An empty one (comments, white space) is refused by ScriptPreparer; a null one here.
                if (sb is null)
                {
                    throw new CommandErrorException(new ErrorRecord(new ArgumentException(Strings.EmptyScriptBlock), ErrorIds.EmptyScriptBlockId, ErrorCategory.InvalidArgument, sb));
                }

                _blocks.Add(ScriptPreparer.RewriteUsing(sb, SessionState, usingValues));
            }

            return ScriptPreparer.WrapAsProcess("& ('__pmBlock' + $_)");
        }

        private List<string>? _blocks;

        private protected override System.Management.Automation.Language.IScriptExtent? UserBlockOf(object? input) =>
            _blocksMode && input is int i && i >= 0 && i < ScriptBlock.Length ? ScriptBlock[i].Ast?.Extent : base.UserBlockOf(input);

        /// <summary>Starts the clock and the runspace setup.</summary>
        protected override void BeginProcessing()
        {
            _clock.Start();
            base.BeginProcessing();
        }

        private protected override void AddToSession(InitialSessionState iss)
        {
            if (_blocks is null) return;
            for (int i = 0; i < _blocks.Count; i++)
            {
                iss.Commands.Add(new SessionStateFunctionEntry("__pmBlock" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), _blocks[i]));
            }
        }

        /// <summary>Runs the script block for the item.</summary>
        protected override void ProcessRecord()
        {
            if (_blocksMode) return;
            if (!ReceivesInput) return;
            object? item = InputObject;
            if (TryTakeInput(ref item)) SubmitItem(item);
        }

        /// <summary>Runs the script blocks (several-blocks form), waits for everything, and returns the summary if asked.</summary>
        protected override void EndProcessing()
        {
            if (_blocksMode)
            {
                for (int i = 0; i < ScriptBlock.Length; i++) SubmitItem(i);
            }

            FinishRun();
            if (PassThru) WriteObject(new ParallelRunSummary(_total, _succeeded, _failed, _notRun, _clock.Elapsed));
        }

        private protected override void OnItemOutcome(ItemOutcome<object?, object?> outcome)
        {
            _total++;
            switch (outcome.Status)
            {
                case ItemStatus.Succeeded: _succeeded++; break;
                case ItemStatus.Failed:
                case ItemStatus.TimedOut: _failed++; break;
                default: _notRun++; break;
            }

            if (_blocksMode && (outcome.Status == ItemStatus.Failed || outcome.Status == ItemStatus.TimedOut) && !StopRequested && outcome.Input is int index)
            {
                // The item is only the block's number: say which block it is, in words.
                foreach (ErrorRecord e in ItemErrorRecords(outcome)) WriteError(NameBlock(e, index));
                return;
            }

            base.OnItemOutcome(outcome);
        }

        /// <summary>The error with a message that names the block (its number and first line); the exception is kept.</summary>
        private ErrorRecord NameBlock(ErrorRecord e, int index)
        {
            string message = e.ErrorDetails?.Message ?? e.Exception?.Message ?? e.ToString();
            e.ErrorDetails = new ErrorDetails(UserText.Format(Strings.BlockFailed, index + 1, ScriptBlock.Length, UserText.FirstLine(ScriptBlock[index]), message));
            return e;
        }

        /// <summary>Side effects only: outputs are discarded.</summary>
        private protected override void WriteOutputs(IReadOnlyList<object?> outputs)
        {
        }

        private protected override void WriteEndOutput(object? value)
        {
        }
    }
}
