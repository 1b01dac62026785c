using System;

namespace ParallelMap.Commands
{
    /// <summary>The summary Start-ResumableBatch returns at the end of a run.</summary>
    public sealed class ResumableBatchResult
    {
        internal ResumableBatchResult(string path, long total, long done, long failed, long skipped, long rejected, long pending, TimeSpan elapsed)
        {
            Path = path;
            Total = total;
            Done = done;
            Failed = failed;
            Skipped = skipped;
            Rejected = rejected;
            Pending = pending;
            Elapsed = elapsed;
        }

        /// <summary>The checkpoint folder.</summary>
        public string Path { get; }

        /// <summary>Items seen in this run.</summary>
        public long Total { get; }

        /// <summary>Items of this run whose results were saved.</summary>
        public long Done { get; }

        /// <summary>Items of this run that failed (recorded with their errors).</summary>
        public long Failed { get; }

        /// <summary>Items skipped because an earlier run recorded them (done, or failed without -RetryFailed).</summary>
        public long Skipped { get; }

        /// <summary>Items refused for their key (null, empty, invalid, a duplicate in this run, or a -KeyScript that failed): never run nor recorded.</summary>
        public long Rejected { get; }

        /// <summary>Items of this run left to do (the run stopped early); a resume runs them.</summary>
        public long Pending { get; }

        /// <summary>Wall time of this run.</summary>
        public TimeSpan Elapsed { get; }
    }
}
