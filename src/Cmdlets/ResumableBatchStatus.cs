using System;
using System.Collections.Generic;
using System.Management.Automation;
using ParallelMap.Engine.Checkpoint;

namespace ParallelMap.Commands
{
    /// <summary>The status of a resumable batch, read without running anything.</summary>
    public sealed class ResumableBatchStatus
    {
        internal ResumableBatchStatus(CheckpointSummary s, IReadOnlyList<ResumableBatchFailure> failed)
        {
            Path = s.Path;
            Seen = s.Seen;
            Done = s.Done;
            Failed = s.Failed;
            Pending = s.Pending;
            Chunks = s.Chunks;
            Runs = s.Runs;
            LastRunCompleted = s.LastRunCompleted;
            LastUpdate = s.LastUpdateUtc.ToLocalTime();
            Created = s.Manifest.CreatedUtc.ToLocalTime();
            LockHolder = s.LockHolder?.ToString();
            LockIsStale = s.LockIsStale;
            IsRunning = s.LockHolder is not null && !s.LockIsStale;
            FailedItems = failed;
        }

        /// <summary>The checkpoint folder.</summary>
        public string Path { get; }

        /// <summary>Distinct keys any run has submitted.</summary>
        public long Seen { get; }

        /// <summary>Keys whose results are saved.</summary>
        public long Done { get; }

        /// <summary>Keys whose last outcome is a failure.</summary>
        public long Failed { get; }

        /// <summary>Keys submitted but neither done nor failed (a run stopped before them).</summary>
        public long Pending { get; }

        /// <summary>Result chunks saved.</summary>
        public long Chunks { get; }

        /// <summary>Runs that opened the checkpoint.</summary>
        public int Runs { get; }

        /// <summary>True when the last run went through its whole input.</summary>
        public bool LastRunCompleted { get; }

        /// <summary>When the journal last changed (local time).</summary>
        public DateTime LastUpdate { get; }

        /// <summary>When the checkpoint was made (local time).</summary>
        public DateTime Created { get; }

        /// <summary>Who holds the lock (host, PID, start), if anyone.</summary>
        public string? LockHolder { get; }

        /// <summary>True when the lock's holder is a process that is gone (the next run takes it over).</summary>
        public bool LockIsStale { get; }

        /// <summary>True when a live process holds the lock.</summary>
        public bool IsRunning { get; }

        /// <summary>The failed keys with their errors.</summary>
        public IReadOnlyList<ResumableBatchFailure> FailedItems { get; }
    }
}
