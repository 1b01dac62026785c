using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using ParallelMap.Engine;
using ParallelMap.Engine.Checkpoint;

namespace ParallelMap.Commands
{
    // The engine's sink: outcomes and worker records turned into writes, and progress. Every member runs on the pipeline thread (the engine calls the sink only there).
    public abstract partial class ParallelCommandBase
    {
        /// <summary>True when items come from the pipeline or -InputObject; without either there is nothing to run per item.</summary>
        private protected bool ReceivesInput => MyInvocation.ExpectingInput || MyInvocation.BoundParameters.ContainsKey("InputObject");

        /// <summary>True once Ctrl-C (StopProcessing) came: nothing may be written any more.</summary>
        private protected bool StopRequested => _stopping;

        void IEngineSink<object?, object?>.OnOutcome(ItemOutcome<object?, object?> outcome)
        {
            // Outcomes still reach the cmdlet while stopping (a resumable batch records what
            // finished); only the writes stop.
            if (!_stopping)
            {
                for (int i = 0; i < outcome.PreviousErrors.Count; i++)
                {
                    WriteVerbose(UserText.Format(Strings.RetryingItem, outcome.Input, i + 1, outcome.PreviousErrors[i].Message));
                }
            }

            if (outcome.Status != ItemStatus.NotRun) Pool?.CountItem();
            OnItemOutcome(outcome);
        }

        /// <summary>What the cmdlet does with an item's outcome; the default writes outputs and errors.</summary>
        private protected virtual void OnItemOutcome(ItemOutcome<object?, object?> outcome)
        {
            if (_stopping) return;
            switch (outcome.Status)
            {
                case ItemStatus.Succeeded:
                    WriteOutputs(outcome.Outputs);
                    break;
                case ItemStatus.Failed:
                    // What the item wrote before it failed is passed on, as ForEach-Object -Parallel
                    // does; a retried attempt's outputs never reach here (only the last attempt's).
                    WriteOutputs(PartialOutputs(outcome));
                    foreach (ErrorRecord e in ItemErrorRecords(outcome)) WriteError(e);
                    break;
                case ItemStatus.TimedOut:
                    // Stopped midway by ParallelMap: its outputs are dropped (its runspace was
                    // still writing them when the time ran out).
                    foreach (ErrorRecord e in ItemErrorRecords(outcome)) WriteError(e);
                    break;
            }
        }

        /// <summary>Writes an item's outputs; Invoke-ParallelRun discards them.</summary>
        private protected virtual void WriteOutputs(IReadOnlyList<object?> outputs)
        {
            foreach (object? o in outputs) WriteObject(o);
        }

        /// <summary>What a failed item wrote before its terminating error.</summary>
        private protected static IReadOnlyList<object?> PartialOutputs(ItemOutcome<object?, object?> outcome) =>
            (outcome.Error as ItemErrorsException)?.Outputs ?? Array.Empty<object?>();

        /// <summary>The error records of a failed item, ready for WriteError (<see cref="RunErrorRecords.ForItem"/>).</summary>
        private protected IEnumerable<ErrorRecord> ItemErrorRecords(ItemOutcome<object?, object?> outcome) =>
            RunErrorRecords.ForItem(outcome, TimeoutSeconds, UserBlockOf);

        void IEngineSink<object?, object?>.OnRecord(WorkerRecord<object?> record)
        {
            if (_stopping) return;
            switch (record.Record)
            {
                case ErrorRecord e when record.IsItemRecord:
                    // A non-terminating error of an item: written as it is; the item goes on.
                    WriteError(ErrorForwarding.ForCaller(e, record.Input, UserBlockOf(record.Input)));
                    break;
                case ErrorRecord e:
                    WriteError(new ErrorRecord(e.Exception, ErrorIds.CleanupFailedId, e.CategoryInfo.Category, e.TargetObject));
                    break;
                case WarningRecord w:
                    WriteWarning(w.Message);
                    break;
                case VerboseRecord v:
                    WriteVerbose(v.Message);
                    break;
                case DebugRecord d:
                    WriteDebug(d.Message);
                    break;
                case InformationRecord i:
                    WriteInformation(i);
                    break;
                case ProgressRecord p:
                    if (p.ParentActivityId < 0 && _progressShown) p.ParentActivityId = _progressId;
                    WriteProgress(p);
                    break;
                case ItemOutputs<object?> outputs:
                    // Outputs a big item passed on while it runs (RunspaceWorker streams them).
                    WriteOutputs(outputs.Values);
                    break;
                case EndOutput o:
                    WriteEndOutput(o.Value);
                    break;
                case Exception ex:
                    WriteError(new ErrorRecord(ex, ErrorIds.CleanupFailedId, ErrorCategory.CloseError, null));
                    break;
            }
        }

        /// <summary>An output of a per-runspace end block (or of the init/cleanup script).</summary>
        private protected virtual void WriteEndOutput(object? value) => WriteObject(value);

        void IEngineSink<object?, object?>.OnWait()
        {
            OnIdle();
            MaybeWriteProgress();
        }

        /// <summary>Called on the pipeline thread while it waits for the runspaces (and after each submit).</summary>
        private protected virtual void OnIdle()
        {
        }

        // ------------------------------------------------------------------ progress

        private void MaybeWriteProgress()
        {
            if (_stopping) return;
            DateTime now = DateTime.UtcNow;
            if ((now - _lastProgress).TotalMilliseconds < 200) return;
            _lastProgress = now;
            EngineProgress p = Engine.GetProgress();

            // Short runs show no bar: it would only flicker.
            if (!_progressShown && p.Elapsed.TotalSeconds < 1) return;
            _progressShown = true;
            var record = new ProgressRecord(_progressId, ProgressActivity, p.Total is long total
                ? UserText.Format(Strings.ProgressStatus, p.Completed, total, p.Running, p.RatePerSecond)
                : UserText.Format(Strings.ProgressStatusNoTotal, p.Completed, p.Running, p.RatePerSecond));
            if (p.PercentComplete is int pc) record.PercentComplete = pc;
            if (p.EstimatedRemaining is TimeSpan eta) record.SecondsRemaining = (int)Math.Min(int.MaxValue, eta.TotalSeconds);
            WriteProgress(record);
        }

        private void CompleteProgress()
        {
            if (!_progressShown) return;
            WriteProgress(new ProgressRecord(_progressId, ProgressActivity, "Done") { RecordType = ProgressRecordType.Completed });
        }
    }
}
