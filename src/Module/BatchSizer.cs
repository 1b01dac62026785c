using System;
using System.Diagnostics;
using System.Threading;

namespace ParallelMap.Engine
{
    /// <summary>
    /// Automatic batch sizing: a moving average of the time one item takes, turned into the number
    /// of items that make up <see cref="EngineOptions.TargetBatchDuration"/> of work. It starts at 1
    /// (nothing is known), grows while items are fast and shrinks as soon as they turn slow.
    /// </summary>
    internal sealed class BatchSizer
    {
        private readonly long _targetTicks;
        private readonly int _max;

        /// <summary>Moving average of one item's duration in Stopwatch ticks × 16; 0 until the first sample.
        /// Updated by several workers without a lock: a lost sample only slows the average down.</summary>
        private long _avgTicksX16;

        internal BatchSizer(TimeSpan target, int max)
        {
            _targetTicks = (long)(target.TotalSeconds * Stopwatch.Frequency);
            _max = max;
        }

        internal void Observe(long ticks)
        {
            long x16 = Math.Max(1, ticks) * 16;
            long avg = Volatile.Read(ref _avgTicksX16);

            // Weight 1/8 to a new sample: about the last 8 items count. A slow item raises the
            // average at once by at least an eighth of its time, so a run turning slow shrinks fast.
            long next = avg == 0 ? x16 : avg + ((x16 - avg) / 8);
            Volatile.Write(ref _avgTicksX16, Math.Max(1, next));
        }

        /// <summary>The average item time in Stopwatch ticks, or long.MaxValue before any sample (unknown counts as slow).</summary>
        internal long AverageTicks
        {
            get
            {
                long avg = Volatile.Read(ref _avgTicksX16);
                return avg == 0 ? long.MaxValue : avg / 16;
            }
        }

        internal int Current
        {
            get
            {
                long avg = Volatile.Read(ref _avgTicksX16);
                if (avg == 0) return 1;
                long n = (_targetTicks * 16) / avg;
                return (int)Math.Max(1, Math.Min(_max, n));
            }
        }
    }
}
