using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using ParallelMap.Engine;
using Xunit;

namespace ParallelMap.Engine.Tests;

/// <summary>
/// Worker.TakeMore: a worker on the last item of its batch moves the next batch to itself, so
/// that it can send it ahead (the process and remote workers do); those items are handed to it
/// next, in order, and a timeout gives them back to run elsewhere, each with one outcome.
/// </summary>
public class TakeMoreTests
{
    /// <summary>At the last item of its batch, takes more; checks that it is then handed exactly what it took, in order.</summary>
    private sealed class AheadWorker : Worker<int, int>
    {
        private readonly ConcurrentQueue<string> _broken;
        private readonly List<KeyValuePair<long, int>> _peeked = new();
        private readonly Queue<long> _promised = new();
        private readonly StrongBox<int>? _hang;

        /// <param name="broken">Where broken promises are reported.</param>
        /// <param name="hang">When given: the first worker to move items ahead hangs on that item (its number is stored here).</param>
        public AheadWorker(ConcurrentQueue<string> broken, StrongBox<int>? hang = null)
        {
            _broken = broken;
            _hang = hang;
        }

        public int Moves;
        public int MostMoved;
        public int NotAtEnd = -1;

        protected override void Process(int input, ItemContext<int> context)
        {
            if (_promised.Count > 0)
            {
                long expected = _promised.Dequeue();
                if (expected != context.Sequence) _broken.Enqueue($"worker {Id}: took {expected} ahead, was handed {context.Sequence}");
            }

            PeekUpcoming(_peeked, 1000);
            if (_peeked.Count == 0)
            {
                int moved = TakeMore(1000);
                if (moved > 0)
                {
                    Moves++;
                    MostMoved = Math.Max(MostMoved, moved);
                    PeekUpcoming(_peeked, 1000);
                    if (_peeked.Count != moved) _broken.Enqueue($"worker {Id}: moved {moved}, peeked {_peeked.Count}");
                    foreach (var p in _peeked)
                    {
                        if (p.Value != (int)p.Key) _broken.Enqueue($"sequence {p.Key} paired with input {p.Value}");
                        _promised.Enqueue(p.Key);
                    }

                    // The batch is not used up now: a second move is refused.
                    NotAtEnd = TakeMore(1000);
                    if (_hang is not null && Interlocked.CompareExchange(ref _hang.Value, input, -1) == -1) AbortToken.WaitHandle.WaitOne();
                }
            }

            context.Output(input);
        }
    }

    [Fact]
    public void TakeMore_AtTheBatchsLastItem_MovesTheNextBatchAndHandsItOverInOrder()
    {
        var broken = new ConcurrentQueue<string>();
        var (sink, workers) = Run.WorkersMade(new EngineOptions { ThrottleLimit = 2, BatchSize = 10 }, 500, () => new AheadWorker(broken));

        Assert.Empty(broken);
        Assert.Equal(Enumerable.Range(0, 500), sink.Outcomes.Select(o => o.Outputs.Single()).OrderBy(x => x));
        Assert.All(sink.Outcomes, o => Assert.Equal(ItemStatus.Succeeded, o.Status));
        Assert.True(workers.Sum(w => w.Moves) > 0, "some worker moved items ahead");

        // Never more than batching would hand at once, and never a second move before the batch is used up.
        Assert.True(workers.Max(w => w.MostMoved) <= 10);
        Assert.All(workers.Where(w => w.Moves > 0), w => Assert.Equal(0, w.NotAtEnd));
    }

    [Fact]
    public void TakeMore_ItemsTakenAheadOfATimedOutItem_RunElsewhereOnceEach()
    {
        var broken = new ConcurrentQueue<string>();
        var hang = new StrongBox<int>(-1);
        var options = new EngineOptions { ThrottleLimit = 2, BatchSize = 5, ItemTimeout = TimeSpan.FromMilliseconds(300) };

        // The first worker to move a batch ahead hangs on the item it moved it at: it times
        // out, and the batch it moved must run on its replacement or the other worker.
        var sink = Run.Workers(options, 60, () => new AheadWorker(broken, hang));

        Assert.Empty(broken);
        Assert.Equal(Enumerable.Range(0, 60), sink.Outcomes.Select(o => o.Input).OrderBy(x => x));
        Assert.NotEqual(-1, hang.Value);
        var timedOut = Assert.Single(sink.Outcomes, o => o.Status != ItemStatus.Succeeded);
        Assert.Equal(hang.Value, timedOut.Input);
        Assert.Equal(ItemStatus.TimedOut, timedOut.Status);
    }
}
