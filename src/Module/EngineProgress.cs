using System;

namespace ParallelMap.Engine
{
    /// <summary>A snapshot of a run's counters, taken at any time from any thread.</summary>
    public sealed class EngineProgress
    {
        internal EngineProgress(long submitted, long completed, long succeeded, long failed, long timedOut, long cancelled, long notRun, int running, long retries, int workers, TimeSpan elapsed, double rate, long? total, bool inputCompleted)
        {
            Submitted = submitted;
            Completed = completed;
            Succeeded = succeeded;
            Failed = failed;
            TimedOut = timedOut;
            Cancelled = cancelled;
            NotRun = notRun;
            Running = running;
            Retries = retries;
            Workers = workers;
            Elapsed = elapsed;
            RatePerSecond = rate;
            Total = total;
            InputCompleted = inputCompleted;
        }

        /// <summary>Items submitted so far.</summary>
        public long Submitted { get; }

        /// <summary>Items with a final outcome (any status).</summary>
        public long Completed { get; }

        /// <summary>Items that succeeded.</summary>
        public long Succeeded { get; }

        /// <summary>Items that failed for good, timed-out ones included.</summary>
        public long Failed { get; }

        /// <summary>Items whose last attempt timed out.</summary>
        public long TimedOut { get; }

        /// <summary>Items cancelled while running.</summary>
        public long Cancelled { get; }

        /// <summary>Items that never ran because the run stopped.</summary>
        public long NotRun { get; }

        /// <summary>Items being processed right now.</summary>
        public int Running { get; }

        /// <summary>Retries scheduled so far.</summary>
        public long Retries { get; }

        /// <summary>Submitted items without a final outcome yet (queued, running or waiting to retry).</summary>
        public long InFlight => Submitted - Completed;

        /// <summary>Live workers.</summary>
        public int Workers { get; }

        /// <summary>Time since the engine was created.</summary>
        public TimeSpan Elapsed { get; }

        /// <summary>Completions per second over roughly the last five seconds (early in a run: since just before the first completion).</summary>
        public double RatePerSecond { get; }

        /// <summary>The number of items in the run when known: the hint, or the submitted count once input is complete.</summary>
        public long? Total { get; }

        /// <summary>True once the caller said no more items will come.</summary>
        public bool InputCompleted { get; }

        /// <summary>Percent done when the total is known, else null.</summary>
        public int? PercentComplete => Total is long t && t > 0 ? (int)Math.Min(100, Completed * 100 / t) : (int?)null;

        /// <summary>Estimated time left when the total is known and the rate is positive, else null.</summary>
        public TimeSpan? EstimatedRemaining
        {
            get
            {
                if (Total is not long t || RatePerSecond <= 0) return null;
                long left = Math.Max(0, t - Completed);
                return TimeSpan.FromSeconds(Math.Min(left / RatePerSecond, TimeSpan.MaxValue.TotalSeconds / 2));
            }
        }
    }
}
