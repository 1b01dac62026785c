using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using ParallelMap.Engine;

namespace ParallelMap.Commands
{
    /// <summary>The summary Invoke-ParallelRun -PassThru returns.</summary>
    public sealed class ParallelRunSummary
    {
        internal ParallelRunSummary(long total, long succeeded, long failed, long notRun, TimeSpan elapsed)
        {
            Total = total;
            Succeeded = succeeded;
            Failed = failed;
            NotRun = notRun;
            Elapsed = elapsed;
        }

        /// <summary>Script blocks or items run.</summary>
        public long Total { get; }

        /// <summary>Those that succeeded.</summary>
        public long Succeeded { get; }

        /// <summary>Those that failed or timed out.</summary>
        public long Failed { get; }

        /// <summary>Those that did not run to the end because the run stopped early.</summary>
        public long NotRun { get; }

        /// <summary>Wall time of the run.</summary>
        public TimeSpan Elapsed { get; }
    }
}
