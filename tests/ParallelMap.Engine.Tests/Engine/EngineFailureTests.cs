using System;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using ParallelMap.Engine;
using Xunit;

namespace ParallelMap.Engine.Tests;

/// <summary>Stops, timeouts, retries, error policy, faults and leaks.</summary>
public class EngineFailureTests
{
    /// <summary>The documented stop bound is about one idle interval; tests allow a wide margin so no
    /// slow machine fails them, while a design that waits for the blocked item never ends at all.</summary>
    private static readonly TimeSpan StopMargin = TimeSpan.FromSeconds(10);

    [Fact]
    public void Stop_WorkerBlockedForeverIgnoringAbort_RunEndsAndEveryItemHasOneOutcome()
    {
        using var never = new ManualResetEventSlim(false);
        using var started = new ManualResetEventSlim(false);
        var options = new EngineOptions { ThrottleLimit = 2, ShutdownTimeout = TimeSpan.FromMilliseconds(200), IdleCallbackInterval = TimeSpan.FromMilliseconds(20) };
        var (sink, stopElapsed, engine) = Run.OnThread(() =>
        {
            var life = new Lifecycle();
            var sink = new RecordingSink<int, int>();
            var engine = ParallelEngine.Create(options, _ => new FuncWorker<int, int>(life, (i, c, _) =>
            {
                if (i == 0) { started.Set(); never.Wait(); }
                else Thread.Sleep(1);
                c.Output(i);
            }), sink);
            engine.Submit(0);
            Assert.True(started.Wait(TimeSpan.FromSeconds(30)));
            for (int i = 1; i < 50; i++) engine.Submit(i);
            var sw = Stopwatch.StartNew();
            new Thread(() => engine.Stop()).Start();
            engine.Drain();
            var elapsed = sw.Elapsed;
            engine.Dispose();
            return (sink, elapsed, engine);
        });

        Assert.True(stopElapsed < StopMargin, $"stop took {stopElapsed}");
        Assert.Equal(50, sink.Outcomes.Count);
        Assert.Equal(Enumerable.Range(0, 50), sink.Outcomes.Select(o => o.Input).OrderBy(i => i));
        Assert.Equal(ItemStatus.Cancelled, sink.Outcomes.Single(o => o.Input == 0).Status);
        Assert.Contains(sink.Outcomes, o => o.Status == ItemStatus.NotRun);
        Assert.Equal(StopReason.Requested, engine.StopReason);
        never.Set();
    }

    [Fact]
    public void Stop_WorkerHonoursAbort_EndRunsAndNoThreadLeft()
    {
        using var started = new ManualResetEventSlim(false);
        var life = new Lifecycle();
        var engine = Run.OnThread(() =>
        {
            var sink = new RecordingSink<int, int>();
            var engine = ParallelEngine.Create(new EngineOptions { ThrottleLimit = 3 }, _ => new FuncWorker<int, int>(life, (i, c, w) =>
            {
                started.Set();
                w.AbortSignal.Wait();
                throw new OperationCanceledException();
            }), sink);
            for (int i = 0; i < 20; i++) engine.Submit(i);
            Assert.True(started.Wait(TimeSpan.FromSeconds(30)));
            engine.Stop();
            engine.Drain();
            Assert.True(engine.Shutdown());
            engine.Dispose();
            Assert.Equal(20, sink.Outcomes.Count);
            return engine;
        });
        Assert.Equal(0, engine.ThreadCount);
        Assert.Equal(life.Begins, life.Ends);
    }

    [Fact]
    public void Stop_ByCancellationToken_StopsTheRun()
    {
        using var cts = new CancellationTokenSource();
        var (sink, reason) = Run.OnThread(() =>
        {
            var sink = new RecordingSink<int, int>();
            using var engine = ParallelEngine.Create(new EngineOptions { ThrottleLimit = 2 }, _ => new FuncWorker<int, int>(new Lifecycle(), (i, c, w) =>
            {
                if (i == 3) cts.Cancel();
                w.AbortToken.WaitHandle.WaitOne(i >= 3 ? 60_000 : 0);
                c.Output(i);
            }), sink, cts.Token);
            for (int i = 0; i < 200; i++) engine.Submit(i);
            engine.Drain();
            return (sink, engine.StopReason);
        });
        Assert.Equal(StopReason.Requested, reason);
        Assert.Equal(200, sink.Outcomes.Count);
        Assert.Contains(sink.Outcomes, o => o.Status is ItemStatus.NotRun or ItemStatus.Cancelled);
    }

    [Fact]
    public void Timeout_ItemBlocks_ReportedTimedOutWorkerReplacedOthersGoOn()
    {
        // Every other item sleeps 15 ms and batches are single items: the other worker alone needs
        // about half a second for them, so work is still queued when item 5 times out at 200 ms and
        // its worker is discarded; a slower machine only leaves more. It must be replaced.
        var options = new EngineOptions { ThrottleLimit = 2, BatchSize = 1, ItemTimeout = TimeSpan.FromMilliseconds(200) };
        var (sink, life, _) = Run.Map(options, Enumerable.Range(0, 40), (i, c, w) =>
        {
            if (i == 5) w.AbortSignal.Wait(TimeSpan.FromSeconds(60));
            else Thread.Sleep(15);
            c.Output(i);
        });

        Assert.Equal(40, sink.Outcomes.Count);
        var timedOut = sink.Outcomes.Single(o => o.Input == 5);
        Assert.Equal(ItemStatus.TimedOut, timedOut.Status);
        Assert.IsType<TimeoutException>(timedOut.Error);
        Assert.Empty(timedOut.Outputs);
        Assert.All(sink.Outcomes.Where(o => o.Input != 5), o => Assert.Equal(ItemStatus.Succeeded, o.Status));
        Assert.True(life.WorkerIds.Max() > 2, "the aborted worker is replaced by a new one");
        Assert.Equal(life.Begins, life.Ends);
    }

    [Fact]
    public void Timeout_WorkerIgnoresAbort_StillReportedAndRunCompletes()
    {
        using var never = new ManualResetEventSlim(false);
        var options = new EngineOptions { ThrottleLimit = 2, ItemTimeout = TimeSpan.FromMilliseconds(100), ShutdownTimeout = TimeSpan.FromMilliseconds(100) };
        var (sink, _, _) = Run.OnThread(() =>
        {
            var life = new Lifecycle();
            var sink = new RecordingSink<int, int>();
            using var engine = ParallelEngine.Create(options, _ => new FuncWorker<int, int>(life, (i, c, _) =>
            {
                if (i == 1) never.Wait();
                c.Output(i);
            }), sink);
            for (int i = 0; i < 10; i++) engine.Submit(i);
            engine.Drain();
            Assert.False(engine.Shutdown(), "the stuck worker cannot exit");
            return (sink, life, engine);
        });
        never.Set();
        Assert.Equal(ItemStatus.TimedOut, sink.Outcomes.Single(o => o.Input == 1).Status);
        Assert.Equal(9, sink.Outcomes.Count(o => o.Status == ItemStatus.Succeeded));
    }

    [Fact]
    public void Retry_FailsTwiceThenSucceeds_ThreeAttemptsAndOnlyLastOutputs()
    {
        var attempts = new int[20];
        var options = new EngineOptions { ThrottleLimit = 3, MaxRetries = 3, RetryDelay = TimeSpan.FromMilliseconds(1), RandomSeed = 7 };
        var (sink, _, _) = Run.Map(options, Enumerable.Range(0, 20), (i, c, _) =>
        {
            int a = Interlocked.Increment(ref attempts[i]);
            c.Output(i * 100 + a);
            if (i % 4 == 0 && a <= 2) throw new InvalidOperationException($"attempt {a} of {i}");
        });

        Assert.All(sink.Outcomes, o => Assert.Equal(ItemStatus.Succeeded, o.Status));
        foreach (var o in sink.Outcomes.Where(o => o.Input % 4 == 0))
        {
            Assert.Equal(3, o.Attempts);
            Assert.Equal(new[] { o.Input * 100 + 3 }, o.Outputs);
            Assert.Equal(new[] { $"attempt 1 of {o.Input}", $"attempt 2 of {o.Input}" }, o.PreviousErrors.Select(e => e.Message));
        }

        Assert.All(sink.Outcomes.Where(o => o.Input % 4 != 0), o => Assert.Equal(1, o.Attempts));
    }

    [Fact]
    public void Retry_AlwaysFails_FailedAfterAllAttemptsWithLastError()
    {
        var options = new EngineOptions { ThrottleLimit = 2, MaxRetries = 2, RetryDelay = TimeSpan.FromMilliseconds(1) };
        var (sink, _, _) = Run.Map(options, new[] { 1 }, (i, c, _) => c.Fail(new InvalidOperationException("nope " + c.Attempt)));
        var o = Assert.Single(sink.Outcomes);
        Assert.Equal(ItemStatus.Failed, o.Status);
        Assert.Equal(3, o.Attempts);
        Assert.Equal("nope 3", o.Error!.Message);
        Assert.Equal(2, o.PreviousErrors.Count);
    }

    [Fact]
    public void Retry_TimedOutWhenAsked_SecondAttemptSucceeds()
    {
        int calls = 0;
        var options = new EngineOptions { ThrottleLimit = 1, MaxRetries = 1, RetryTimedOut = true, RetryDelay = TimeSpan.FromMilliseconds(1), ItemTimeout = TimeSpan.FromMilliseconds(150) };
        var (sink, _, _) = Run.Map(options, new[] { 1 }, (i, c, w) =>
        {
            if (Interlocked.Increment(ref calls) == 1) w.AbortSignal.Wait(TimeSpan.FromSeconds(60));
            c.Output(42);
        });
        var o = Assert.Single(sink.Outcomes);
        Assert.Equal(ItemStatus.Succeeded, o.Status);
        Assert.Equal(2, o.Attempts);
        Assert.IsType<TimeoutException>(Assert.Single(o.PreviousErrors));
    }

    [Fact]
    public void Retry_TimedOutNotAsked_NotRetried()
    {
        var options = new EngineOptions { ThrottleLimit = 1, MaxRetries = 3, RetryDelay = TimeSpan.FromMilliseconds(1), ItemTimeout = TimeSpan.FromMilliseconds(100) };
        var (sink, _, _) = Run.Map(options, new[] { 1 }, (i, c, w) => w.AbortSignal.Wait(TimeSpan.FromSeconds(60)));
        var o = Assert.Single(sink.Outcomes);
        Assert.Equal(ItemStatus.TimedOut, o.Status);
        Assert.Equal(1, o.Attempts);
    }

    [Fact]
    public void ErrorPolicyStop_FirstFailure_FailureFirstThenRestNotRunOrCancelled()
    {
        var options = new EngineOptions { ThrottleLimit = 2, ErrorPolicy = ErrorPolicy.Stop, InputCapacity = 50 };
        var (sink, _, engine) = Run.Map(options, Enumerable.Range(0, 500), (i, c, w) =>
        {
            if (i == 10) throw new InvalidOperationException("boom");
            w.AbortSignal.Wait(2);
            c.Output(i);
        });
        Assert.Equal(500, sink.Outcomes.Count);
        var failed = sink.Outcomes.Single(o => o.Status == ItemStatus.Failed);
        Assert.Equal(10, failed.Input);
        int failedAt = sink.Outcomes.IndexOf(failed);
        Assert.DoesNotContain(sink.Outcomes.Take(failedAt), o => o.Status is ItemStatus.NotRun or ItemStatus.Cancelled);
        Assert.Contains(sink.Outcomes, o => o.Status == ItemStatus.NotRun);
        Assert.Equal(StopReason.ItemFailed, engine.StopReason);
    }

    [Fact]
    public void ErrorPolicyContinue_Failures_AreOutcomesAndTheRestSucceed()
    {
        var (sink, _, engine) = Run.Map(new EngineOptions { ThrottleLimit = 4 }, Enumerable.Range(0, 100), (i, c, _) =>
        {
            if (i % 10 == 0) throw new InvalidOperationException("bad " + i);
            c.Output(i);
        });
        Assert.Equal(10, sink.Outcomes.Count(o => o.Status == ItemStatus.Failed));
        Assert.Equal(90, sink.Outcomes.Count(o => o.Status == ItemStatus.Succeeded));
        Assert.Equal(StopReason.None, engine.StopReason);
    }

    [Fact]
    public void Begin_Throws_DrainThrowsWorkerFaultedAndEveryItemHasOutcome()
    {
        var (sink, ex) = Run.OnThread(() =>
        {
            var sink = new RecordingSink<int, int>();
            var life = new Lifecycle();
            using var engine = ParallelEngine.Create(new EngineOptions { ThrottleLimit = 2 }, _ => new FuncWorker<int, int>(life, (i, c, _) => c.Output(i), begin: _ => throw new InvalidOperationException("init failed")), sink);
            Exception? caught = null;
            try
            {
                for (int i = 0; i < 10; i++) engine.Submit(i);
                engine.Drain();
            }
            catch (WorkerFaultedException e) { caught = e; }
            engine.Shutdown();
            Assert.Equal(life.Begins, life.Ends);
            return (sink, caught);
        });
        Assert.NotNull(ex);
        Assert.Contains("init failed", ex!.Message);
        Assert.True(((WorkerFaultedException)ex).DuringBegin);
    }

    [Fact]
    public void Progress_WithTotalHint_CountsRateAndEta()
    {
        EngineProgress? mid = null;
        EngineProgress? end = null;
        Run.OnThread(() =>
        {
            var sink = new RecordingSink<int, int>();
            using var engine = ParallelEngine.Create(new EngineOptions { ThrottleLimit = 2, TotalHint = 200 }, _ => new FuncWorker<int, int>(new Lifecycle(), (i, c, _) => { Thread.Sleep(1); c.Output(i); }), sink);
            for (int i = 0; i < 100; i++) engine.Submit(i);
            engine.WaitForOutcomes(TimeSpan.FromSeconds(30));
            mid = engine.GetProgress();
            for (int i = 100; i < 200; i++) engine.Submit(i);
            engine.Drain();
            end = engine.GetProgress();
        });
        Assert.Equal(200, mid!.Total);
        Assert.Equal(100, mid.Completed);
        Assert.True(mid.RatePerSecond > 0);
        Assert.NotNull(mid.EstimatedRemaining);
        Assert.Equal(50, mid.PercentComplete);
        Assert.Equal(200, end!.Completed);
        Assert.Equal(200, end.Succeeded);
        Assert.Equal(0, end.InFlight);
        Assert.True(end.InputCompleted);
        Assert.Equal(100, end.PercentComplete);
    }
}
