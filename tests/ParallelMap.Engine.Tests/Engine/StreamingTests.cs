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
            Assert.True(c.CanStream);
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

    [Fact]
    public void Stream_Ordered_IsRefused()
    {
        Exception? refused = null;
        bool canStream = true;
        Run.Map(new EngineOptions { ThrottleLimit = 2, Ordered = true }, new[] { 1 }, (i, c, _) =>
        {
            canStream = c.CanStream;
            refused = Record.Exception(() => c.Stream(new[] { 1 }));
        });

        Assert.False(canStream);
        Assert.IsType<InvalidOperationException>(refused);
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
