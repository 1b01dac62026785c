using System;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;

namespace ParallelMap.Bench;

/// <summary>
/// The scheduler the product brief asked for, built for comparison only (bench project, never
/// shipped): one bounded <see cref="Channel{T}"/> of input, N dedicated consumer threads, one
/// bounded channel of outcomes read by the caller's thread. It does what the engine does for a
/// run without timeouts, retries or ordering: the caller submits; while the input channel is full
/// it takes outcomes (backpressure without deadlock); outcomes reach the caller's thread only.
/// Capacities are the engine's defaults (1,024 each), so both hold the same amount in flight.
/// </summary>
public sealed class ChannelReference<TIn, TOut> : IDisposable
{
    private readonly Channel<TIn> _input;
    private readonly Channel<Outcome> _output;
    private readonly Thread[] _consumers;
    private readonly Func<TIn, TOut> _process;
    private readonly Action<Outcome> _deliver;
    private long _submitted;
    private long _delivered;

    public ChannelReference(int consumers, Func<TIn, TOut> process, Action<Outcome> deliver, int capacity = 1024)
    {
        _process = process;
        _deliver = deliver;
        _input = Channel.CreateBounded<TIn>(new BoundedChannelOptions(capacity) { SingleWriter = true, SingleReader = consumers == 1, FullMode = BoundedChannelFullMode.Wait });
        _output = Channel.CreateBounded<Outcome>(new BoundedChannelOptions(capacity) { SingleWriter = consumers == 1, SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _consumers = new Thread[consumers];
        for (int i = 0; i < consumers; i++)
        {
            _consumers[i] = new Thread(Consume) { IsBackground = true, Name = "channel reference " + (i + 1) };
            _consumers[i].Start();
        }
    }

    /// <summary>What one item became, as the engine's outcome carries it (input and output).</summary>
    public sealed class Outcome
    {
        public Outcome(TIn input, TOut output)
        {
            Input = input;
            Output = output;
        }

        public TIn Input { get; }

        public TOut Output { get; }
    }

    /// <summary>Submits one item; while the input is full, delivers outcomes; then delivers what is ready.</summary>
    public void Submit(TIn item)
    {
        while (!_input.Writer.TryWrite(item))
        {
            if (DeliverReady() == 0)
            {
                // Room for input or an outcome to take: whichever comes first.
                Task.WaitAny(_input.Writer.WaitToWriteAsync().AsTask(), _output.Reader.WaitToReadAsync().AsTask());
            }
        }

        _submitted++;
        DeliverReady();
    }

    /// <summary>Completes the input and delivers every outcome.</summary>
    public void Drain()
    {
        _input.Writer.TryComplete();
        while (_delivered < _submitted)
        {
            if (DeliverReady() == 0) _output.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    public void Dispose()
    {
        _input.Writer.TryComplete();
        foreach (var t in _consumers) t.Join();
    }

    private int DeliverReady()
    {
        int n = 0;
        while (_output.Reader.TryRead(out Outcome? o))
        {
            _delivered++;
            n++;
            _deliver(o);
        }

        return n;
    }

    private void Consume()
    {
        ChannelReader<TIn> reader = _input.Reader;
        ChannelWriter<Outcome> writer = _output.Writer;
        while (true)
        {
            if (reader.TryRead(out TIn? item))
            {
                var outcome = new Outcome(item, _process(item));
                if (!writer.TryWrite(outcome)) writer.WriteAsync(outcome).AsTask().GetAwaiter().GetResult();
                continue;
            }

            ValueTask<bool> more = reader.WaitToReadAsync();
            if (!(more.IsCompleted ? more.Result : more.AsTask().GetAwaiter().GetResult())) return;
        }
    }
}
