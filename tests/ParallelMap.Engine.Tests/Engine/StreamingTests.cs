using System;
using System.Linq;
using System.Threading;
using ParallelMap.Engine;
using Xunit;

namespace ParallelMap.Engine.Tests;

/// <summary>ItemContext.Stream: outputs of a running item passed on before it ends.</summary>
public class StreamingTests
{
    private static int[] Streamed(RecordingSink<int, int> sink) =>
        sink.Records.Select(r => r.Record).OfType<ItemOutputs<int>>().SelectMany(o => o.Values).ToArray();

    [Fact]
    public void Stream_Unordered_OutputsArriveAsRecordsBeforeTheOutcome()
    {
        var (sink, _, _) = Run.Map(new EngineOptions { ThrottleLimit = 2 }, new[] { 7 }, (i, c, _) =>
        {
            Assert.True(c.MayStream(1));
            c.Stream(new[] { 1, 2, 3 });
            c.Stream(new[] { 4 });
            c.Output(5);
        });

        Assert.Equal(new[] { 1, 2, 3, 4 }, Streamed(sink));
        var outcome = Assert.Single(sink.Outcomes);
        Assert.Equal(new[] { 5 }, outcome.Outputs);
        Assert.True(sink.Sequence.IndexOf(outcome) > sink.Sequence.FindLastIndex(o => o is WorkerRecord<int>));
        Assert.All(sink.Records, r => Assert.Equal(7, r.Input));
    }

    /// <summary>Everything the caller got, outputs streamed and outputs with outcomes, in delivery order.</summary>
    private static int[] Delivered(RecordingSink<int, int> sink) =>
        sink.Sequence.SelectMany(o => o switch
        {
            WorkerRecord<int> { Record: ItemOutputs<int> streamed } => streamed.Values,
            ItemOutcome<int, int> outcome => outcome.Outputs,
            _ => Array.Empty<int>(),
        }).ToArray();

    [Fact]
    public void Stream_OrderedBeforeItsTurn_SmallHoldIsNotStreamedAndStreamIsRefused()
    {
        Exception? refused = null;
        bool? mayStream = null;
        using var firstRunning = new ManualResetEventSlim(false);
        Run.Map(new EngineOptions { ThrottleLimit = 2, Ordered = true, BatchSize = 1 }, new[] { 0, 1 }, (i, c, _) =>
        {
            if (i == 0)
            {
                firstRunning.Set();
                Thread.Sleep(300);
                return;
            }

            firstRunning.Wait();
            mayStream = c.MayStream(10);
            refused = Record.Exception(() => c.Stream(new[] { 1 }));
        });

        Assert.False(mayStream);
        Assert.IsType<InvalidOperationException>(refused);
    }

    [Fact]
    public void Stream_OrderedBigItemBehindASlowOne_WaitsForItsTurnHoldingNoMoreThanTheLimit_AndOrderHolds()
    {
        // OutcomeCapacity 4 makes the hold limit 16. Item 1 writes 2,000 outputs while item 0 is
        // still running; before this fix it held all 2,000 until it ended.
        var options = new EngineOptions { ThrottleLimit = 2, Ordered = true, BatchSize = 1, OutcomeCapacity = 4 };
        int mostHeld = 0;
        using var firstRunning = new ManualResetEventSlim(false);
        var (sink, _, _) = Run.Map(options, new[] { 0, 1, 2 }, (i, c, _) =>
        {
            if (i == 0)
            {
                firstRunning.Set();
                Thread.Sleep(300);
                c.Output(0);
                return;
            }

            if (i == 1) firstRunning.Wait();
            var held = new System.Collections.Generic.List<int>();
            for (int k = 0; k < 2000; k++)
            {
                held.Add((i * 10_000) + k);
                mostHeld = Math.Max(mostHeld, held.Count);
                if (held.Count % 8 == 0 && c.MayStream(held.Count))
                {
                    c.Stream(held.ToArray());
                    held.Clear();
                }
            }

            foreach (int v in held) c.Output(v);
        });

        Assert.True(mostHeld <= 16, $"item 1 held {mostHeld} outputs before its turn");
        var expected = new[] { 0 }.Concat(Enumerable.Range(10_000, 2000)).Concat(Enumerable.Range(20_000, 2000));
        Assert.Equal(expected, Delivered(sink));
        Assert.All(sink.Outcomes, o => Assert.Equal(ItemStatus.Succeeded, o.Status));
    }

    [Fact]
    public void Stream_OrderedWaitForTheTurn_DoesNotCountTowardTheItemTimeout()
    {
        // Item 1 waits about 0.7 s for its turn and then runs 0.5 s: 1.2 s in all, over the 1 s
        // timeout, of which it ran 0.5 s.
        var options = new EngineOptions { ThrottleLimit = 2, Ordered = true, BatchSize = 1, OutcomeCapacity = 1, ItemTimeout = TimeSpan.FromSeconds(1) };
        using var firstRunning = new ManualResetEventSlim(false);
        bool waited = false;
        var (sink, _, _) = Run.Map(options, new[] { 0, 1 }, (i, c, _) =>
        {
            if (i == 0)
            {
                firstRunning.Set();
                Thread.Sleep(700);
                return;
            }

            firstRunning.Wait();
            var sw = System.Diagnostics.Stopwatch.StartNew();
            waited = c.MayStream(100) && sw.ElapsedMilliseconds >= 500;
            Thread.Sleep(500);
            c.Output(1);
        });

        Assert.True(waited, "item 1 did not wait for its turn");
        Assert.All(sink.Outcomes, o => Assert.Equal(ItemStatus.Succeeded, o.Status));
    }

    [Fact]
    public void Stream_OrderedTurnItemWaitsForARetry_BigItemsHoldOnInsteadOfWaitingForEver()
    {
        // Item 0 fails once and waits 300 ms for its retry; meanwhile both workers run big items
        // after it. If they waited for its turn, no worker would be left to run it.
        var options = new EngineOptions { ThrottleLimit = 2, Ordered = true, BatchSize = 1, OutcomeCapacity = 1, MaxRetries = 1, RetryDelay = TimeSpan.FromMilliseconds(300), MaxRetryDelay = TimeSpan.FromMilliseconds(300) };
        int attempts0 = 0;
        var (sink, _, _) = Run.Map(options, new[] { 0, 1, 2 }, (i, c, _) =>
        {
            if (i == 0)
            {
                if (Interlocked.Increment(ref attempts0) == 1) throw new InvalidOperationException("first attempt fails");
                c.Output(0);
                return;
            }

            var held = new System.Collections.Generic.List<int>();
            var sw = System.Diagnostics.Stopwatch.StartNew();
            for (int k = 0; sw.ElapsedMilliseconds < 600 || k < 100; k++)
            {
                held.Add((i * 1_000_000) + k);
                if (held.Count % 4 == 0 && c.MayStream(held.Count))
                {
                    c.Stream(held.ToArray());
                    held.Clear();
                }

                Thread.Sleep(1);
            }

            foreach (int v in held) c.Output(v);
        }, deadlockSeconds: 30);

        int[] got = Delivered(sink);
        Assert.Equal(0, got[0]);
        Assert.Equal(got.OrderBy(v => v), got);
        Assert.Equal(2, attempts0);
    }

    [Fact]
    public void Retry_AttemptThatStreamed_IsFinalAndNotRetried()
    {
        int streamedAttempts = 0, heldAttempts = 0;
        var options = new EngineOptions { ThrottleLimit = 2, MaxRetries = 2, RetryDelay = TimeSpan.FromMilliseconds(1) };
        var (sink, _, _) = Run.Map(options, new[] { 1, 2 }, (i, c, _) =>
        {
            if (i == 1)
            {
                Interlocked.Increment(ref streamedAttempts);
                Assert.True(c.MayStream(2));
                c.Stream(new[] { 10, 11 });
            }
            else
            {
                Interlocked.Increment(ref heldAttempts);
                c.Output(20);
            }

            throw new InvalidOperationException("fails every time");
        });

        Assert.Equal(1, streamedAttempts);
        Assert.Equal(3, heldAttempts);
        Assert.Equal(new[] { 10, 11 }, Streamed(sink));
        Assert.All(sink.Outcomes, o => Assert.Equal(ItemStatus.Failed, o.Status));
        Assert.Equal(1, sink.Outcomes.Single(o => o.Input == 1).Attempts);
    }

    [Fact]
    public void Stream_SlowCaller_WorkerWaitsSoStreamedOutputsInTheOutboxStayBounded()
    {
        // The caller takes its time over each record; the worker streams far more than the bound.
        var options = new EngineOptions { ThrottleLimit = 1, OutcomeCapacity = 4 };
        int most = 0;
        int inFlight = 0;
        var (sink, _, _) = Run.Map(options, new[] { 1 }, (i, c, _) =>
        {
            for (int k = 0; k < 40; k++)
            {
                int now = Interlocked.Add(ref inFlight, 100);
                if (now > most) most = now;
                Assert.True(c.MayStream(100));
                c.Stream(Enumerable.Range(k * 100, 100).ToArray());
            }
        }, s => s.OnRecordHook = r => { Interlocked.Add(ref inFlight, -((ItemOutputs<int>)r.Record).Values.Count); Thread.Sleep(1); });

        Assert.Equal(Enumerable.Range(0, 4000), Streamed(sink));

        // A record of 100 outputs already exceeds the bound (twice the capacity of 4), so at most
        // one record is in the outbox, one in the caller's hands and one being published: 300.
        // Counted by records alone, the outbox would take 4 of them (900 in all).
        Assert.True(most <= 300, $"{most} streamed outputs were waiting at once");
    }
}
