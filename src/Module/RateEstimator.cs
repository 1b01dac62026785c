using System.Collections.Generic;

namespace ParallelMap.Engine
{
    /// <summary>
    /// The completion rate over a sliding window of recent samples, sampled on demand (each
    /// <c>GetProgress</c>). Early in a run the window starts between the last sample that saw
    /// nothing completed and the first that saw something, so the time spent opening workers
    /// before the first completion does not count.
    /// </summary>
    /// <remarks>
    /// It replaces an exponential average (5 s time constant) that started from the first sample:
    /// seeded at 0 while workers were still opening, it needed many seconds to climb, and showed
    /// 3/s and 28 s left when 16 of 100 items were done after 1.4 s at a real 20/s. A window's
    /// rate is the plain count over the time it covers, right as soon as it holds a few
    /// completions, and follows a change of pace within one window length.
    /// </remarks>
    internal sealed class RateEstimator
    {
        /// <summary>How far back the rate looks once the run is older than this.</summary>
        internal const double WindowSeconds = 5;

        /// <summary>Samples closer together than this are not kept (bounds the queue at about 50).</summary>
        private const double MinSpacingSeconds = 0.1;

        /// <summary>Kept samples, oldest first; the first is where the window starts (guarded by itself).</summary>
        private readonly Queue<KeyValuePair<double, long>> _points = new Queue<KeyValuePair<double, long>>();

        private double _rate;
        private double _lastKept = double.NegativeInfinity;

        /// <summary>Takes a sample and returns completions per second over the window ending now.</summary>
        /// <param name="nowSeconds">Seconds since the run started (any monotonic clock).</param>
        /// <param name="completed">Items completed so far.</param>
        /// <returns>The rate, 0 while nothing has completed.</returns>
        internal double Sample(double nowSeconds, long completed)
        {
            lock (_points)
            {
                if (completed <= 0)
                {
                    // Nothing done yet: the window will start here, not at the engine's start.
                    _points.Clear();
                    _points.Enqueue(new KeyValuePair<double, long>(nowSeconds, 0));
                    _lastKept = nowSeconds;
                    _rate = 0;
                    return 0;
                }

                if (_points.Count == 0)
                {
                    // No sample before the first completion: all we know is the run's start.
                    _points.Enqueue(new KeyValuePair<double, long>(0, 0));
                }
                else if (_points.Count == 1 && _points.Peek().Value == 0)
                {
                    // The first completion came between the last empty sample and this one:
                    // start the window half way, which halves the error the sampling interval adds.
                    double before = _points.Dequeue().Key;
                    _points.Enqueue(new KeyValuePair<double, long>((before + nowSeconds) / 2, 0));
                }

                if (nowSeconds - _lastKept >= MinSpacingSeconds)
                {
                    _points.Enqueue(new KeyValuePair<double, long>(nowSeconds, completed));
                    _lastKept = nowSeconds;
                }

                // Keep as the start the newest sample at or before the window's start, so the
                // window always covers at least WindowSeconds once the run is that old.
                while (_points.Count >= 2 && SecondOldest().Key <= nowSeconds - WindowSeconds)
                {
                    _points.Dequeue();
                }

                KeyValuePair<double, long> start = _points.Peek();
                double span = nowSeconds - start.Key;
                if (span > 0) _rate = (completed - start.Value) / span;
                return _rate;
            }
        }

        private KeyValuePair<double, long> SecondOldest()
        {
            using (var e = _points.GetEnumerator())
            {
                e.MoveNext();
                e.MoveNext();
                return e.Current;
            }
        }
    }
}
