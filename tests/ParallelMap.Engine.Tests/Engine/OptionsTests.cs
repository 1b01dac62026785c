using System;
using System.Diagnostics;
using ParallelMap.Engine;
using Xunit;

namespace ParallelMap.Engine.Tests;

public class OptionsTests
{
    [Theory]
    [InlineData(nameof(EngineOptions.ThrottleLimit))]
    [InlineData(nameof(EngineOptions.InputCapacity))]
    [InlineData(nameof(EngineOptions.OutcomeCapacity))]
    [InlineData(nameof(EngineOptions.MaxBatchSize))]
    public void IntOption_BelowOne_ThrowsNamingTheOption(string name)
    {
        var options = new EngineOptions();
        var property = typeof(EngineOptions).GetProperty(name)!;
        var ex = Assert.Throws<System.Reflection.TargetInvocationException>(() => property.SetValue(options, 0));
        var inner = Assert.IsType<ArgumentOutOfRangeException>(ex.InnerException);
        Assert.Equal(name, inner.ParamName);
        Assert.Contains(name, inner.Message);
    }

    [Fact]
    public void NegativeValues_Throw()
    {
        var o = new EngineOptions();
        Assert.Equal("MaxRetries", Assert.Throws<ArgumentOutOfRangeException>(() => o.MaxRetries = -1).ParamName);
        Assert.Equal("BatchSize", Assert.Throws<ArgumentOutOfRangeException>(() => o.BatchSize = -1).ParamName);
        Assert.Equal("ReorderWindow", Assert.Throws<ArgumentOutOfRangeException>(() => o.ReorderWindow = -1).ParamName);
        Assert.Equal("RetryDelay", Assert.Throws<ArgumentOutOfRangeException>(() => o.RetryDelay = TimeSpan.FromSeconds(-1)).ParamName);
        Assert.Equal("TotalHint", Assert.Throws<ArgumentOutOfRangeException>(() => o.TotalHint = -5).ParamName);
        Assert.Equal("BeginConcurrency", Assert.Throws<ArgumentOutOfRangeException>(() => o.BeginConcurrency = -1).ParamName);
    }

    [Fact]
    public void ItemTimeout_NotPositive_Throws()
    {
        var o = new EngineOptions();
        Assert.Equal("ItemTimeout", Assert.Throws<ArgumentOutOfRangeException>(() => o.ItemTimeout = TimeSpan.Zero).ParamName);
        Assert.Equal("ItemTimeout", Assert.Throws<ArgumentOutOfRangeException>(() => o.ItemTimeout = TimeSpan.FromSeconds(-3)).ParamName);
        o.ItemTimeout = null;
        Assert.Null(o.ItemTimeout);
    }

    [Fact]
    public void Create_NullFactoryOrSink_Throws()
    {
        Assert.Equal("workerFactory", Assert.Throws<ArgumentNullException>(() => ParallelEngine.Create<int, int>(new EngineOptions(), null!, new RecordingSink<int, int>())).ParamName);
        Assert.Equal("sink", Assert.Throws<ArgumentNullException>(() => ParallelEngine.Create<int, int>(new EngineOptions(), _ => null!, null!)).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentNullException>(() => ParallelEngine.Create<int, int>(null!, _ => null!, new RecordingSink<int, int>())).ParamName);
    }

    [Fact]
    public void BatchSizer_FastItems_GrowsSlowItems_Shrinks()
    {
        var sizer = new BatchSizer(TimeSpan.FromMilliseconds(2), 4096);
        Assert.Equal(1, sizer.Current);
        long microsecond = Stopwatch.Frequency / 1_000_000;
        for (int i = 0; i < 100; i++) sizer.Observe(Math.Max(1, microsecond));
        Assert.True(sizer.Current >= 1000, $"fast items give big batches ({sizer.Current})");
        for (int i = 0; i < 60; i++) sizer.Observe(Stopwatch.Frequency / 10);
        Assert.Equal(1, sizer.Current);
    }

    [Fact]
    public void Backoff_Doubles_WithJitterAndCap()
    {
        var b = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), seed: 1);
        for (int attempt = 1; attempt <= 3; attempt++)
        {
            double expected = 100 * Math.Pow(2, attempt - 1);
            Assert.InRange(b.Delay(attempt).TotalMilliseconds, expected * 0.5, expected * 1.5);
        }

        Assert.True(b.Delay(20) <= TimeSpan.FromSeconds(1));
    }
}
