using System;

namespace ParallelMap.Engine
{
    /// <summary>Exponentially smoothed completion rate with a 5 s time constant, sampled on demand.</summary>
    internal sealed class RateEstimator
    {
        private const double TimeConstantSeconds = 5;
        private double _rate;
        private double _lastSeconds;
        private long _lastCompleted;
        private bool _primed;

        internal double Sample(double nowSeconds, long completed)
        {
            lock (this)
            {
                if (!_primed)
                {
                    _primed = true;
                    _rate = nowSeconds > 0 ? completed / nowSeconds : 0;
                }
                else
                {
                    double dt = nowSeconds - _lastSeconds;
                    if (dt > 0.05)
                    {
                        double instant = (completed - _lastCompleted) / dt;
                        double alpha = 1 - Math.Exp(-dt / TimeConstantSeconds);
                        _rate += alpha * (instant - _rate);
                    }
                    else
                    {
                        return _rate;
                    }
                }

                _lastSeconds = nowSeconds;
                _lastCompleted = completed;
                return _rate;
            }
        }
    }
}
