using System;
using System.Diagnostics;
using System.Threading;
using ParallelMap.Engine;
using Xunit;

namespace ParallelMap.Engine.Tests;

/// <summary>Runs alone: it counts the process's threads, which tests running beside it would change.</summary>
[CollectionDefinition(nameof(LeakTests), DisableParallelization = true)]
public class LeakTestsCollection
{
}

[Collection(nameof(LeakTests))]
public class LeakTests
{
    [Fact]
    public void Lifecycle_1000Runs_BeginsEqualEndsAndNoThreadGrowth()
    {
        var life = new Lifecycle();
        int Threads() => Process.GetCurrentProcess().Threads.Count;
        Run.OnThread(() =>
        {
            // Warm up so lazily created runtime threads are not counted as growth.
            RunMany(life, 20);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            int before = Threads();
            RunMany(life, 1000);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            int after = Threads();
            Assert.True(after - before <= 8, $"threads grew from {before} to {after}");
        }, deadlockSeconds: 300);
        Assert.Equal(life.Begins, life.Ends);
    }

    private static void RunMany(Lifecycle life, int runs)
    {
        for (int r = 0; r < runs; r++)
        {
            var sink = new RecordingSink<int, int>();
            using var engine = ParallelEngine.Create(new EngineOptions { ThrottleLimit = 4, ItemTimeout = r % 2 == 0 ? TimeSpan.FromSeconds(30) : null }, _ => new FuncWorker<int, int>(life, (i, c, _) => c.Output(i)), sink);
            for (int i = 0; i < 8; i++) engine.Submit(i);
            if (r % 3 == 0) engine.Stop();
            engine.Drain();
            Assert.True(engine.Shutdown());
            Assert.Equal(8, sink.Outcomes.Count);
            Assert.Equal(0, engine.ThreadCount);
        }
    }
}
