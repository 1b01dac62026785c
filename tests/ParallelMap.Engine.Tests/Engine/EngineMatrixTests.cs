using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using ParallelMap.Engine;
using Xunit;

namespace ParallelMap.Engine.Tests;

/// <summary>Reader/writer matrix: every input yields exactly one outcome, whatever the shape of the run.</summary>
public class EngineMatrixTests
{
    public static IEnumerable<object[]> Matrix()
    {
        foreach (int throttle in new[] { 1, 2, 8, 64 })
        foreach (int batch in new[] { 0, 7 })
        foreach (bool ordered in new[] { false, true })
            yield return new object[] { throttle, batch, ordered };
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public void Submit_AnyThrottleBatchAndOrder_EveryItemExactlyOnceWithItsOutputs(int throttle, int batch, bool ordered)
    {
        const int N = 3000;
        var options = new EngineOptions { ThrottleLimit = throttle, BatchSize = batch, Ordered = ordered, InputCapacity = 16, OutcomeCapacity = 16 };
        var (sink, life, _) = Run.Map(options, Enumerable.Range(0, N), (i, ctx, _) =>
        {
            // Uneven work so that items finish out of order.
            if (i % 17 == 0) Thread.SpinWait(20_000);
            ctx.Output(i * 2);
            if (i % 3 == 0) ctx.Output(-i);
        });

        Assert.Equal(0, sink.WrongThreadCalls);
        Assert.Equal(N, sink.Outcomes.Count);
        Assert.Equal(Enumerable.Range(0, N).Select(i => (long)i), sink.Outcomes.Select(o => o.Sequence).OrderBy(s => s));
        foreach (var o in sink.Outcomes)
        {
            Assert.Equal(ItemStatus.Succeeded, o.Status);
            Assert.Equal((int)o.Sequence, o.Input);
            var expected = o.Input % 3 == 0 ? new[] { o.Input * 2, -o.Input } : new[] { o.Input * 2 };
            Assert.Equal(expected, o.Outputs);
            Assert.Equal(1, o.Attempts);
        }

        if (ordered) Assert.Equal(Enumerable.Range(0, N).Select(i => (long)i), sink.Outcomes.Select(o => o.Sequence));
        Assert.Equal(life.Begins, life.Ends);
        Assert.InRange(life.Begins, 1, throttle);
    }

    [Fact]
    public void Submit_FullQueuesAndSlowConsumer_NoDeadlockAndEverythingDelivered()
    {
        // Input and outcome capacity 1, a consumer slower than the workers, several outputs and
        // side records per item: a design where Submit blocks without draining deadlocks here.
        var options = new EngineOptions { ThrottleLimit = 4, InputCapacity = 1, OutcomeCapacity = 1, IdleCallbackInterval = TimeSpan.FromMilliseconds(5) };
        var (sink, _, _) = Run.Map(options, Enumerable.Range(0, 400), (i, ctx, _) =>
        {
            ctx.Record("log " + i);
            ctx.Output(i);
            ctx.Record("log2 " + i);
        }, s => s.OnOutcomeHook = _ => Thread.Sleep(1));

        Assert.Equal(400, sink.Outcomes.Count);
        Assert.Equal(800, sink.Records.Count);
        Assert.Equal(Enumerable.Range(0, 400), sink.Outcomes.Select(o => o.Input).OrderBy(i => i));
    }

    [Fact]
    public void Submit_WhileInputStillArrives_OutcomesStreamBeforeInputEnds()
    {
        var options = new EngineOptions { ThrottleLimit = 2 };
        int deliveredBeforeComplete = Run.OnThread(() =>
        {
            var life = new Lifecycle();
            var sink = new RecordingSink<int, int>();
            using var engine = ParallelEngine.Create(options, _ => new FuncWorker<int, int>(life, (i, c, _) => c.Output(i)), sink);
            for (int i = 0; i < 200; i++)
            {
                engine.Submit(i);
                if (i % 20 == 0) Thread.Sleep(2);
            }

            int before = sink.Outcomes.Count;
            engine.Drain();
            return before;
        });
        Assert.True(deliveredBeforeComplete > 0, "outcomes must reach the caller while it is still submitting");
    }

    [Fact]
    public void Workers_64BlockedInSynchronousCalls_AllRunAtOnce()
    {
        // Each item blocks until all 64 are inside Process at the same time. A thread-pool based
        // design ramps up about one thread a second and would take a minute; the barrier's
        // 30 s limit makes it fail instead.
        const int N = 64;
        using var barrier = new Barrier(N);
        var options = new EngineOptions { ThrottleLimit = N, InputCapacity = N };
        var (sink, life, _) = Run.Map(options, Enumerable.Range(0, N), (i, ctx, _) =>
        {
            if (!barrier.SignalAndWait(TimeSpan.FromSeconds(30))) throw new TimeoutException("not all workers ran at once");
            ctx.Output(i);
        });
        Assert.All(sink.Outcomes, o => Assert.Equal(ItemStatus.Succeeded, o.Status));
        Assert.Equal(N, life.MaxConcurrent);
        Assert.Equal(N, life.Begins);
    }

    [Fact]
    public void Workers_BeginConcurrency_NoMoreBeginsAtOnceAndAllItemsRun()
    {
        int inBegin = 0, maxInBegin = 0;
        var options = new EngineOptions { ThrottleLimit = 8, BeginConcurrency = 2, InputCapacity = 64 };
        var result = Run.OnThread(() =>
        {
            var life = new Lifecycle();
            var sink = new RecordingSink<int, int>();
            using var engine = ParallelEngine.Create(options, _ => new FuncWorker<int, int>(life, (i, c, _) => { Thread.Sleep(5); c.Output(i); }, begin: _ =>
            {
                int now = Interlocked.Increment(ref inBegin);
                int seen;
                while ((seen = Volatile.Read(ref maxInBegin)) < now && Interlocked.CompareExchange(ref maxInBegin, now, seen) != seen) { }
                Thread.Sleep(20);
                Interlocked.Decrement(ref inBegin);
            }), sink);
            for (int i = 0; i < 64; i++) engine.Submit(i);
            engine.Drain();
            return (sink, life);
        });
        Assert.Equal(64, result.sink.Outcomes.Count);
        Assert.InRange(maxInBegin, 1, 2);
        Assert.True(result.life.Begins > 2, "more workers than the begin limit still start, a few at a time");
    }

    [Fact]
    public void Workers_ShortInput_CreatedLazilyNoMoreThanItems()
    {
        var options = new EngineOptions { ThrottleLimit = 64 };
        var (sink, life, _) = Run.Map(options, Enumerable.Range(0, 3), (i, ctx, _) => ctx.Output(i));
        Assert.Equal(3, sink.Outcomes.Count);
        Assert.InRange(life.Begins, 1, 3);
    }

    [Fact]
    public void Ordered_SlowHeadItem_ReorderWindowBoundsSubmission()
    {
        // The head item blocks until the caller has been seen waiting; by then the caller must
        // have submitted no more than the window.
        const int Window = 8;
        var options = new EngineOptions { ThrottleLimit = 4, Ordered = true, ReorderWindow = Window, InputCapacity = 1000, IdleCallbackInterval = TimeSpan.FromMilliseconds(10) };
        long submittedWhenBlocked = -1;
        var sink = Run.OnThread(() =>
        {
            var life = new Lifecycle();
            var s = new RecordingSink<int, int>();
            using var gate = new ManualResetEventSlim(false);
            using var engine = ParallelEngine.Create(options, _ => new FuncWorker<int, int>(life, (i, c, _) =>
            {
                if (i == 0) Assert.True(gate.Wait(TimeSpan.FromSeconds(60)));
                c.Output(i);
            }), s);
            s.OnWaitHook = () =>
            {
                if (gate.IsSet) return;
                submittedWhenBlocked = engine.GetProgress().Submitted;
                gate.Set();
            };
            for (int i = 0; i < 100; i++) engine.Submit(i);
            engine.Drain();
            return s;
        });

        Assert.Equal(Window, submittedWhenBlocked);
        Assert.Equal(Enumerable.Range(0, 100), sink.Outcomes.Select(o => o.Input));
    }

    [Fact]
    public void Records_EmittedDuringItem_ArriveBeforeItsOutcomeInEmissionOrder()
    {
        var options = new EngineOptions { ThrottleLimit = 3 };
        var (sink, _, _) = Run.Map(options, Enumerable.Range(0, 300), (i, ctx, _) =>
        {
            ctx.Record($"{i}:a");
            ctx.Output(i);
            ctx.Record($"{i}:b");
        });

        foreach (var o in sink.Outcomes)
        {
            int at = sink.Sequence.IndexOf(o);
            var mine = sink.Sequence.Take(at).OfType<WorkerRecord<int>>().Where(r => r.Sequence == o.Sequence).Select(r => (string)r.Record).ToList();
            Assert.Equal(new[] { $"{o.Input}:a", $"{o.Input}:b" }, mine);
        }

        Assert.All(sink.Records, r => Assert.Equal(r.Input, (int)r.Sequence));
    }

    [Fact]
    public void Records_EmittedInBeginAndEnd_DeliveredDuringShutdown()
    {
        var result = Run.OnThread(() =>
        {
            var life = new Lifecycle();
            var sink = new RecordingSink<int, int>();
            using var engine = ParallelEngine.Create(new EngineOptions { ThrottleLimit = 2 }, _ => new FuncWorker<int, int>(life, (i, c, _) => c.Output(i), begin: w => w.Emit("begin " + w.Id), end: w => w.Emit("end " + w.Id)), sink);
            for (int i = 0; i < 10; i++) engine.Submit(i);
            engine.Drain();
            Assert.True(engine.Shutdown());
            return (sink, life);
        });
        var texts = result.sink.Records.Where(r => !r.IsItemRecord).Select(r => (string)r.Record).ToList();
        Assert.Equal(result.life.Begins, texts.Count(t => t.StartsWith("begin")));
        Assert.Equal(result.life.Ends, texts.Count(t => t.StartsWith("end")));
        Assert.Equal(result.life.Begins, result.life.Ends);
    }

    [Fact]
    public void Submit_FromAnotherThread_Throws()
    {
        var sink = new RecordingSink<int, int>();
        using var engine = ParallelEngine.Create(new EngineOptions(), _ => new FuncWorker<int, int>(new Lifecycle(), (i, c, _) => c.Output(i)), sink);
        var ex = Run.OnThread(() => Record.Exception(() => engine.Submit(1)));
        Assert.IsType<InvalidOperationException>(ex);
    }

    [Fact]
    public void Submit_AfterComplete_Throws()
    {
        Run.OnThread(() =>
        {
            var sink = new RecordingSink<int, int>();
            using var engine = ParallelEngine.Create(new EngineOptions(), _ => new FuncWorker<int, int>(new Lifecycle(), (i, c, _) => c.Output(i)), sink);
            engine.Complete();
            Assert.Throws<InvalidOperationException>(() => engine.Submit(1));
        });
    }

    [Fact]
    public void Sink_ThrowsMidDelivery_RemainingOutcomesDeliveredOnNextPump()
    {
        Run.OnThread(() =>
        {
            var sink = new RecordingSink<int, int>();
            int thrown = 0;
            sink.OnOutcomeHook = o => { if (o.Input == 5 && thrown++ == 0) throw new InvalidOperationException("downstream failed"); };
            using var engine = ParallelEngine.Create(new EngineOptions { ThrottleLimit = 1, Ordered = true }, _ => new FuncWorker<int, int>(new Lifecycle(), (i, c, _) => c.Output(i)), sink);
            for (int i = 0; i < 10; i++)
            {
                try { engine.Submit(i); } catch (InvalidOperationException) { }
            }

            try { engine.Drain(); } catch (InvalidOperationException) { engine.Drain(); }
            Assert.Equal(Enumerable.Range(0, 10), sink.Outcomes.Select(o => o.Input));
        });
    }
}
