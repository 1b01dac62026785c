using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using ParallelMap.Engine;
using Xunit;

namespace ParallelMap.Engine.Tests;

/// <summary>Worker.PeekUpcoming: a worker sees the rest of its batch, in the order it will be handed those items.</summary>
public class PeekUpcomingTests
{
    /// <summary>Records, per item, what it peeked; checks that the next item it is handed is the first it peeked.</summary>
    private sealed class PeekingWorker : Worker<int, int>
    {
        private readonly ConcurrentQueue<string> _broken;
        private readonly List<KeyValuePair<long, int>> _peeked = new();
        private long? _expectNext;

        public PeekingWorker(ConcurrentQueue<string> broken) => _broken = broken;

        public int MostPeeked;

        protected override void Process(int input, ItemContext<int> context)
        {
            if (_expectNext is long expected && expected != context.Sequence) _broken.Enqueue($"worker {Id}: peeked {expected} next, got {context.Sequence}");
            PeekUpcoming(_peeked, 100);
            MostPeeked = System.Math.Max(MostPeeked, _peeked.Count);
            foreach (var p in _peeked)
            {
                if (p.Value != (int)p.Key) _broken.Enqueue($"sequence {p.Key} paired with input {p.Value}");
            }

            _expectNext = _peeked.Count > 0 ? _peeked[0].Key : null;
            context.Output(input);
        }
    }

    [Fact]
    public void PeekUpcoming_FixedBatches_ShowsTheRestOfTheBatchInHandOrder()
    {
        var broken = new ConcurrentQueue<string>();
        var (sink, workers) = Run.WorkersMade(new EngineOptions { ThrottleLimit = 2, BatchSize = 10 }, 500, () => new PeekingWorker(broken));

        Assert.Empty(broken);
        Assert.Equal(Enumerable.Range(0, 500), sink.Outcomes.Select(o => o.Outputs.Single()).OrderBy(x => x));

        // Batches of 10: the first item of a batch sees the 9 behind it, never more.
        Assert.Equal(9, workers.Max(w => w.MostPeeked));
    }

    [Fact]
    public void PeekUpcoming_NullList_Throws()
    {
        var error = new ConcurrentQueue<System.Exception>();
        Run.OnThread(() =>
        {
            var engine = ParallelEngine.Create(new EngineOptions { ThrottleLimit = 1 }, _ => new NullPeeker(error), new RecordingSink<int, int>());
            engine.Submit(1);
            engine.Drain();
            engine.Shutdown();
            engine.Dispose();
        });
        Assert.IsType<System.ArgumentNullException>(Assert.Single(error));
    }

    private sealed class NullPeeker : Worker<int, int>
    {
        private readonly ConcurrentQueue<System.Exception> _error;

        public NullPeeker(ConcurrentQueue<System.Exception> error) => _error = error;

        protected override void Process(int input, ItemContext<int> context)
        {
            try
            {
                PeekUpcoming(null!, 1);
            }
            catch (System.Exception e)
            {
                _error.Enqueue(e);
            }
        }
    }
}
