using System;
using System.Collections.Generic;
using System.Management.Automation;
using System.Management.Automation.Language;
using ParallelMap.Engine;

namespace ParallelMap.Commands
{
    /// <summary>The ErrorRecords a run writes for what went wrong: a failed item, a faulted worker, every host lost.</summary>
    internal static class RunErrorRecords
    {
        /// <summary>
        /// The error records of a failed item, ready for WriteError: each as PowerShell made it
        /// (ErrorId, exception, category, position), with the item as target where it names none.
        /// ParallelMap's own ids (ItemTimedOut, ItemFailed) only where ParallelMap decided the
        /// failure, with the original exception inside.
        /// </summary>
        internal static IEnumerable<ErrorRecord> ForItem(ItemOutcome<object?, object?> outcome, double timeoutSeconds, Func<object?, IScriptExtent?> userBlockOf)
        {
            if (outcome.Status == ItemStatus.TimedOut)
            {
                yield return new ErrorRecord(new TimeoutException(UserText.Format(Strings.ItemTimedOutNamed, UserText.DescribeItem(outcome.Input), timeoutSeconds.ToString("0.###", System.Globalization.CultureInfo.CurrentCulture)), outcome.Error), ErrorIds.ItemTimedOutId, ErrorCategory.OperationTimeout, outcome.Input);
                yield break;
            }

            if (outcome.Error is ProcessWorkerExitedException exited)
            {
                yield return new ErrorRecord(exited, ErrorIds.WorkerProcessExitedId, ErrorCategory.ResourceUnavailable, outcome.Input);
                yield break;
            }

            if (outcome.Error is WorkerLostException lost)
            {
                yield return new ErrorRecord(lost, ErrorIds.WorkerLostId, ErrorCategory.ResourceUnavailable, outcome.Input);
                yield break;
            }

            if (outcome.Error is ItemErrorsException items)
            {
                foreach (ErrorRecord r in items.Records) yield return ErrorForwarding.ForCaller(r, outcome.Input, userBlockOf(outcome.Input));
                yield break;
            }

            Exception ex = outcome.Error ?? new InvalidOperationException();
            ErrorRecord? inner = (ex as IContainsErrorRecord)?.ErrorRecord;
            yield return inner is not null ? ErrorForwarding.ForCaller(inner, outcome.Input, userBlockOf(outcome.Input)) : new ErrorRecord(ex, ErrorIds.ItemFailedId, ErrorCategory.NotSpecified, outcome.Input);
        }

        /// <summary>The terminating error of a run whose worker faulted: InitializationFailed (set-up) or WorkerFailed.</summary>
        internal static ErrorRecord ForWorkerFault(WorkerFaultedException e, ScriptBlock? initializationScript)
        {
            if (e.DuringBegin)
            {
                Exception inner = e.InnerException ?? e;
                var record = inner is ItemErrorsException items ? items.Records[0] : (inner as IContainsErrorRecord)?.ErrorRecord;
                string message = record?.ErrorDetails?.Message ?? record?.Exception?.Message ?? inner.Message;
                return new ErrorRecord(new InvalidOperationException(UserText.Format(Strings.InitializationFailed, message), inner), ErrorIds.InitializationFailedId, ErrorCategory.InvalidOperation, initializationScript);
            }

            return new ErrorRecord(new InvalidOperationException(UserText.Format(Strings.WorkerFailed, e.InnerException?.Message), e), ErrorIds.WorkerFailedId, ErrorCategory.InvalidOperation, null);
        }

        /// <summary>The terminating error of a run that lost every remote host.</summary>
        internal static ErrorRecord ForAllSessionsLost(AllWorkersLostException e) =>
            new ErrorRecord(new InvalidOperationException(UserText.Format(Strings.AllSessionsLost, e.InnerException?.Message), e), ErrorIds.AllSessionsLostId, ErrorCategory.ResourceUnavailable, null);
    }
}
