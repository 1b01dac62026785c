using System;
using ParallelMap.Engine;
using Xunit;

namespace ParallelMap.Engine.Tests;

/// <summary>The progress rate and ETA, on a fake clock (the estimator is given the time).</summary>
public class RateEstimatorTests
{
    /// <summary>
    /// Plays a run: nothing completes while workers open (<paramref name="startup"/> s), then
    /// <paramref name="burst"/> items complete together every burst/rate seconds. Samples every
    /// 0.2 s (the cmdlets' progress cadence) and checks, from the given percent on, that the
    /// estimated time left is within a factor of 1.5 of the real one.
    /// </summary>
    [Theory]
    [InlineData(0.6, 20.0, 1, 100, 5)]   // the run: 16 of 100 at 1.4 s, real 20/s
    [InlineData(1.0, 20.0, 4, 100, 5)]   // four workers finishing together
    [InlineData(0.3, 200.0, 8, 1000, 3)]
    [InlineData(2.0, 5.0, 1, 200, 5)]
    public void Sample_SlowStartThenSteadyRate_EtaWithinFactorOnePointFiveAfterTheFirstPercents(double startup, double rate, int burst, int total, int fromPercent)
    {
        var estimator = new RateEstimator();
        double step = burst / rate;
        long CompletedAt(double t) => t < startup ? 0 : Math.Min(total, (long)Math.Floor(((t - startup) / step) + 1e-9) * burst + burst);
        int checkedSamples = 0;
        for (double t = 0.2; ; t += 0.2)
        {
            long done = CompletedAt(t);
            double estimate = estimator.Sample(t, done);
            if (done >= total) break;
            if (done * 100 < fromPercent * total) continue;
            double etaEstimated = (total - done) / estimate;
            double etaReal = (total - done) / rate;
            Assert.True(etaEstimated <= etaReal * 1.5 && etaEstimated >= etaReal / 1.5, $"at {t:F1} s, {done} of {total} done: rate {estimate:F1}/s (real {rate}/s), ETA {etaEstimated:F1} s (real {etaReal:F1} s)");
            checkedSamples++;
        }

        Assert.True(checkedSamples >= 3, "the run was too short to check anything");
    }

    [Fact]
    public void Sample_PaceDrops_FollowsWithinOneWindow()
    {
        var estimator = new RateEstimator();
        long done = 0;
        double t = 0;
        for (int i = 0; i < 100; i++)
        {
            t += 0.1;
            done += 2; // 20/s
            estimator.Sample(t, done);
        }

        Assert.InRange(estimator.Sample(t, done), 18, 22);
        for (int i = 0; i < 60; i++)
        {
            t += 0.1;
            if (i % 2 == 0) done += 1; // 5/s
            estimator.Sample(t, done);
        }

        Assert.InRange(estimator.Sample(t, done), 5 / 1.5, 5 * 1.5);
    }

    [Fact]
    public void Sample_NothingCompleted_RateZeroAndNoEta()
    {
        var estimator = new RateEstimator();
        Assert.Equal(0, estimator.Sample(0.5, 0));
        Assert.Equal(0, estimator.Sample(1.0, 0));
    }

    [Fact]
    public void Sample_FirstSampleAlreadyHasCompletions_RateSinceTheStart()
    {
        var estimator = new RateEstimator();
        Assert.Equal(100 / 2.0, estimator.Sample(2.0, 100), 6);
    }
}
