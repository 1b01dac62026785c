using System;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using ParallelMap.Engine;
using Xunit;

namespace ParallelMap.Engine.Tests;

/// <summary>
/// A worker stuck in a call that ignores its abort (a .NET call such as Thread.Sleep(600000) in a
/// runspace) must not hold up a stop or a timeout: the engine abandons its thread after a short
/// bound, and the worker's End still runs as soon as the call comes back (issue 10, "Stop and signals").
/// </summary>
public class StuckWorkerTests
{
    /// <summary>Generous for a loaded machine; the engine's bound is half a second, the old wait was five.</summary>
    private static readonly TimeSpan PromptReturn = TimeSpan.FromSeconds(2);

    [Fact]
    public void Stop_ItemBlockedIgnoringAbort_StopDrainShutdownDisposeReturnPromptlyThenEndRunsWhenItComesBack()
    {
        using var release = new ManualResetEventSlim(false);
        using var started = new ManualResetEventSlim(false);
        var life = new Lifecycle();
        int endThread = 0, itemThread = 0;
        ParallelEngine<int, int>? kept = null;
        var (elapsed, shutdownClean, endsAtReturn) = Run.OnThread(() =>
        {
            var sink = new RecordingSink<int, int>();
            var engine = ParallelEngine.Create(new EngineOptions { ThrottleLimit = 2 }, _ => new FuncWorker<int, int>(life, (i, c, _) =>
            {
                if (i == 0)
                {
                    Volatile.Write(ref itemThread, Environment.CurrentManagedThreadId);
                    started.Set();
                    release.Wait(); // ignores the abort
                }

                c.Output(i);
            }, end: _ => Volatile.Write(ref endThread, Environment.CurrentManagedThreadId)), sink);
            kept = engine;
            engine.Submit(0);
            Assert.True(started.Wait(TimeSpan.FromSeconds(30)));
            var sw = Stopwatch.StartNew();
            engine.Stop();
            engine.Drain();
            bool clean = engine.Shutdown();
            engine.Dispose();
            return (sw.Elapsed, clean, Volatile.Read(ref life.Ends));
        });

        try
        {
            Assert.True(elapsed < PromptReturn, $"stop to dispose took {elapsed}");
            Assert.False(shutdownClean); // the stuck worker was abandoned, and Shutdown says so
            Assert.Equal(life.Begins - 1, endsAtReturn); // every worker but the stuck one has ended
            Assert.Equal(1, kept!.ThreadCount);
        }
        finally
        {
            release.Set();
        }

        // Back from the blocking call: its End runs at once on its own thread, and the thread exits.
        Assert.True(SpinWait.SpinUntil(() => kept!.ThreadCount == 0, TimeSpan.FromSeconds(30)), "the abandoned worker's thread never exited");
        Assert.Equal(life.Begins, life.Ends);
        Assert.Equal(itemThread, endThread);
    }

    [Fact]
    public void Timeout_ItemBlockedIgnoringAbort_CallReturnsSoonAfterTheTimeoutAndEndRunsWhenItComesBack()
    {
        using var release = new ManualResetEventSlim(false);
        var life = new Lifecycle();
        var timeout = TimeSpan.FromMilliseconds(300);
        ParallelEngine<int, int>? kept = null;
        var (elapsed, sink) = Run.OnThread(() =>
        {
            var sink = new RecordingSink<int, int>();
            var sw = Stopwatch.StartNew();
            var engine = ParallelEngine.Create(new EngineOptions { ThrottleLimit = 2, ItemTimeout = timeout }, _ => new FuncWorker<int, int>(life, (i, c, _) =>
            {
                if (i == 0) release.Wait(); // ignores the abort
                c.Output(i);
            }), sink);
            kept = engine;
            for (int i = 0; i < 4; i++) engine.Submit(i);
            engine.Drain();
            engine.Shutdown();
            engine.Dispose();
            return (sw.Elapsed, sink);
        });

        try
        {
            Assert.True(elapsed < timeout + PromptReturn, $"the run took {elapsed} with a {timeout} timeout");
            Assert.Equal(ItemStatus.TimedOut, sink.Outcomes.Single(o => o.Input == 0).Status);
            Assert.Equal(3, sink.Outcomes.Count(o => o.Succeeded));
            Assert.Equal(1, kept!.ThreadCount);
            Assert.Equal(life.Begins - 1, life.Ends);
        }
        finally
        {
            release.Set();
        }

        Assert.True(SpinWait.SpinUntil(() => kept!.ThreadCount == 0, TimeSpan.FromSeconds(30)), "the abandoned worker's thread never exited");
        Assert.Equal(life.Begins, life.Ends);
    }

    [Fact]
    public void Stop_WorkerHonoursAbortThenRunsLongCleanup_CleanupIsWaitedForNotAbandoned()
    {
        // The short bound is for a worker still inside the interrupted call; once it is back, its
        // end (the user's cleanup) gets the whole ShutdownTimeout, as before.
        using var started = new ManualResetEventSlim(false);
        var life = new Lifecycle();
        var (clean, endsAtReturn) = Run.OnThread(() =>
        {
            var sink = new RecordingSink<int, int>();
            using var engine = ParallelEngine.Create(new EngineOptions { ThrottleLimit = 1, ShutdownTimeout = TimeSpan.FromSeconds(20) }, _ => new FuncWorker<int, int>(life, (i, c, w) =>
            {
                started.Set();
                w.AbortSignal.Wait();
            }, end: _ => Thread.Sleep(1500)), sink);
            engine.Submit(0);
            Assert.True(started.Wait(TimeSpan.FromSeconds(30)));
            engine.Stop();
            engine.Drain();
            bool clean = engine.Shutdown();
            return (clean, Volatile.Read(ref life.Ends));
        });

        Assert.True(clean);
        Assert.Equal(1, endsAtReturn);
    }
}
