using System;

namespace ParallelMap.Engine
{
    /// <summary>Exponential backoff with ±50 % jitter, capped.</summary>
    internal sealed class Backoff
    {
        private readonly TimeSpan _base;
        private readonly TimeSpan _max;
        private readonly Random _random;

        internal Backoff(TimeSpan baseDelay, TimeSpan max, int? seed)
        {
            _base = baseDelay;
            _max = max;
            _random = seed is int s ? new Random(s) : new Random();
        }

        /// <summary>The delay after the given failed attempt (1 for the first).</summary>
        internal TimeSpan Delay(int failedAttempt)
        {
            double factor = Math.Pow(2, Math.Min(30, failedAttempt - 1));
            double jitter;
            lock (_random) jitter = 0.5 + _random.NextDouble();
            double ms = Math.Min(_max.TotalMilliseconds, _base.TotalMilliseconds * factor * jitter);
            return TimeSpan.FromMilliseconds(ms);
        }
    }
}
