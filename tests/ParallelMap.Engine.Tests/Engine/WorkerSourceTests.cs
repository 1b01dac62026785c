using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using ParallelMap.Engine;
using Xunit;

namespace ParallelMap.Engine.Tests;

/// <summary>The worker seam: what the engine asks of an <see cref="IWorkerSource{TIn, TOut}"/>, and when.</summary>
public class WorkerSourceTests
{
    /// <summary>Records every call; makes <see cref="FuncWorker{TIn, TOut}"/> workers from one process delegate.</summary>
    private sealed class RecordingSource : IWorkerSource<int, int>
    {
        private readonly Action<int, ItemContext<int>, FuncWorker<int, int>> _process;
        public readonly Lifecycle Life = new();
        public readonly ConcurrentQueue<string> Calls = new();
        public readonly ConcurrentDictionary<int, FuncWorker<int, int>> Made = new();
        public readonly List<(Worker<int, int> Broken, int NewId)> Replaced = new();
        public int CloseAllCalls;
        public int EndsAtCloseAll = -1;
        public int CreateThread = -1;

        public RecordingSource(Action<int, ItemContext<int>, FuncWorker<int, int>> process) => _process = process;

        public Worker<int, int> Create(int workerId)
        {
            Calls.Enqueue("create " + workerId);
            Volatile.Write(ref CreateThread, Environment.CurrentManagedThreadId);
            return Made[workerId] = new FuncWorker<int, int>(Life, _process);
        }

        public Worker<int, int> Replace(Worker<int, int> broken, int workerId)
        {
            Calls.Enqueue("replace " + broken.Id + " with " + workerId);
            lock (Replaced) Replaced.Add((broken, workerId));
            return Made[workerId] = new FuncWorker<int, int>(Life, _process);
        }

        public void CloseAll()
        {
            Calls.Enqueue("close");
            EndsAtCloseAll = Volatile.Read(ref Life.Ends);
            Interlocked.Increment(ref CloseAllCalls);
        }
    }

    [Fact]
    public void CreateWithSource_NullSource_ThrowsNamingIt()
    {
        Assert.Equal("workerSource", Assert.Throws<ArgumentNullException>(() => ParallelEngine.CreateWithSource<int, int>(new EngineOptions(), null!, new RecordingSink<int, int>())).ParamName);
    }

    [Fact]
    public void CreateWithSource_PlainRun_WorkersMadeByCreateOnTheirOwnThreadsAndCloseAllOnceAfterEveryEnd()
    {
        var source = new RecordingSource((i, c, _) => c.Output(i * 2));
        int callerThread = 0;
        var sink = Run.OnThread(() =>
        {
            callerThread = Environment.CurrentManagedThreadId;
            var sink = new RecordingSink<int, int>();
            var engine = ParallelEngine.CreateWithSource(new EngineOptions { ThrottleLimit = 3 }, source, sink);
            for (int i = 0; i < 200; i++) engine.Submit(i);
            engine.Drain();
            Assert.True(engine.Shutdown());
            Assert.Equal(0, source.CloseAllCalls); // not before Dispose
            engine.Dispose();
            engine.Dispose();
            return sink;
        });

        Assert.Equal(Enumerable.Range(0, 200).Select(i => i * 2), sink.Outcomes.Select(o => o.Outputs.Single()).OrderBy(x => x));
        Assert.Equal(1, source.CloseAllCalls);
        Assert.Equal("close", source.Calls.Last());
        Assert.Empty(source.Replaced);
        Assert.InRange(source.Made.Count, 1, 3);
        Assert.Equal(source.Made.Keys.OrderBy(k => k), Enumerable.Range(1, source.Made.Count));
        Assert.Equal(source.Life.Begins, source.EndsAtCloseAll); // every end ran before the source closed
        Assert.NotEqual(callerThread, source.CreateThread);
        Assert.All(source.Made, kv => Assert.Equal(kv.Key, kv.Value.Id));
    }

    [Fact]
    public void CreateWithSource_ItemTimesOut_BrokenWorkerReplacedThroughReplaceAndTheRestRunsOnTheNewOne()
    {
        using var release = new ManualResetEventSlim(false);
        var source = new RecordingSource((i, c, _) =>
        {
            if (i == 0) release.Wait(); // ignores the abort
            c.Output(i);
        });
        var options = new EngineOptions { ThrottleLimit = 1, BatchSize = 1, ItemTimeout = TimeSpan.FromMilliseconds(150) };
        var sink = Run.OnThread(() =>
        {
            var sink = new RecordingSink<int, int>();
            using var engine = ParallelEngine.CreateWithSource(options, source, sink);
            for (int i = 0; i < 5; i++) engine.Submit(i);
            engine.Drain();
            engine.Shutdown();
            return sink;
        });

        try
        {
            Assert.Equal(ItemStatus.TimedOut, sink.Outcomes.Single(o => o.Input == 0).Status);
            Assert.All(sink.Outcomes.Where(o => o.Input != 0), o => Assert.Equal(ItemStatus.Succeeded, o.Status));
            var (broken, newId) = Assert.Single(source.Replaced);
            Assert.Equal(1, broken.Id);
            Assert.Same(source.Made[1], broken);
            Assert.Equal(2, newId);
            Assert.All(sink.Outcomes.Where(o => o.Input != 0), o => Assert.Equal(2, o.WorkerId));
            Assert.Equal(1, source.CloseAllCalls);
        }
        finally
        {
            release.Set();
        }
    }

    [Fact]
    public void Create_Factory_StillMakesEveryWorkerIncludingReplacements()
    {
        using var release = new ManualResetEventSlim(false);
        var ids = new ConcurrentBag<int>();
        var life = new Lifecycle();
        var options = new EngineOptions { ThrottleLimit = 1, BatchSize = 1, ItemTimeout = TimeSpan.FromMilliseconds(150) };
        var sink = Run.OnThread(() =>
        {
            var sink = new RecordingSink<int, int>();
            using var engine = ParallelEngine.Create(options, id => { ids.Add(id); return new FuncWorker<int, int>(life, (i, c, _) => { if (i == 0) release.Wait(); c.Output(i); }); }, sink);
            for (int i = 0; i < 3; i++) engine.Submit(i);
            engine.Drain();
            return sink;
        });
        release.Set();
        Assert.Equal(new[] { 1, 2 }, ids.OrderBy(i => i));
        Assert.Equal(2, sink.Outcomes.Count(o => o.Succeeded));
    }
}
