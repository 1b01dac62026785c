using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using ParallelMap.Engine;
using Xunit;

namespace ParallelMap.Engine.Tests;

/// <summary>Collects everything the engine hands to the caller, and checks it came on the caller's thread.</summary>
internal sealed class RecordingSink<TIn, TOut> : IEngineSink<TIn, TOut>
{
    private readonly int _thread = Environment.CurrentManagedThreadId;
    public readonly List<ItemOutcome<TIn, TOut>> Outcomes = new();
    public readonly List<WorkerRecord<TIn>> Records = new();

    /// <summary>Everything in delivery order (records and outcomes).</summary>
    public readonly List<object> Sequence = new();
    public Action<ItemOutcome<TIn, TOut>>? OnOutcomeHook;
    public Action? OnWaitHook;
    public Action<WorkerRecord<TIn>>? OnRecordHook;
    public int WaitCalls;
    public int WrongThreadCalls;

    public void OnOutcome(ItemOutcome<TIn, TOut> outcome)
    {
        if (Environment.CurrentManagedThreadId != _thread) WrongThreadCalls++;
        Outcomes.Add(outcome);
        Sequence.Add(outcome);
        OnOutcomeHook?.Invoke(outcome);
    }

    public void OnRecord(WorkerRecord<TIn> record)
    {
        if (Environment.CurrentManagedThreadId != _thread) WrongThreadCalls++;
        Records.Add(record);
        Sequence.Add(record);
        OnRecordHook?.Invoke(record);
    }

    public void OnWait()
    {
        WaitCalls++;
        OnWaitHook?.Invoke();
    }
}

/// <summary>Counts begins and ends across every worker of a run.</summary>
internal sealed class Lifecycle
{
    public int Begins;
    public int Ends;
    public int Concurrent;
    public int MaxConcurrent;
    public readonly ConcurrentBag<int> WorkerIds = new();

    public void Enter()
    {
        int now = Interlocked.Increment(ref Concurrent);
        int seen;
        while ((seen = Volatile.Read(ref MaxConcurrent)) < now && Interlocked.CompareExchange(ref MaxConcurrent, now, seen) != seen)
        {
        }
    }

    public void Leave() => Interlocked.Decrement(ref Concurrent);
}

/// <summary>A worker whose item behaviour is a delegate.</summary>
internal sealed class FuncWorker<TIn, TOut> : Worker<TIn, TOut>
{
    private readonly Action<TIn, ItemContext<TOut>, FuncWorker<TIn, TOut>> _process;
    private readonly Lifecycle _life;
    private readonly Action<FuncWorker<TIn, TOut>>? _begin;
    private readonly Action<FuncWorker<TIn, TOut>>? _end;
    public readonly ManualResetEventSlim AbortSignal = new(false);

    public FuncWorker(Lifecycle life, Action<TIn, ItemContext<TOut>, FuncWorker<TIn, TOut>> process, Action<FuncWorker<TIn, TOut>>? begin = null, Action<FuncWorker<TIn, TOut>>? end = null)
    {
        _life = life;
        _process = process;
        _begin = begin;
        _end = end;
    }

    protected override void Begin()
    {
        Interlocked.Increment(ref _life.Begins);
        _life.WorkerIds.Add(Id);
        _begin?.Invoke(this);
    }

    protected override void Process(TIn input, ItemContext<TOut> context)
    {
        _life.Enter();
        try
        {
            _process(input, context, this);
        }
        finally
        {
            _life.Leave();
        }
    }

    protected override void End()
    {
        Interlocked.Increment(ref _life.Ends);
        _end?.Invoke(this);
    }

    public override void Abort() => AbortSignal.Set();

    public void Emit(object record) => EmitRecord(record);
}

internal static class Run
{
    /// <summary>Runs the engine on a dedicated thread and fails the test instead of hanging when it deadlocks.</summary>
    public static T OnThread<T>(Func<T> body, int deadlockSeconds = 120)
    {
        T result = default!;
        Exception? error = null;
        var t = new Thread(() =>
        {
            try { result = body(); }
            catch (Exception ex) { error = ex; }
        }, 16 * 1024 * 1024) { IsBackground = true };
        t.Start();
        Assert.True(t.Join(TimeSpan.FromSeconds(deadlockSeconds)), $"the run did not finish in {deadlockSeconds} s: deadlock");
        if (error is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
        return result;
    }

    public static void OnThread(Action body, int deadlockSeconds = 120) => OnThread(() => { body(); return 0; }, deadlockSeconds);

    /// <summary>Runs the items 0 to <paramref name="count"/> - 1 through workers made by <paramref name="make"/>; returns the sink after a full drain and shutdown.</summary>
    public static RecordingSink<int, int> Workers(EngineOptions options, int count, Func<Worker<int, int>> make, int deadlockSeconds = 120)
    {
        return OnThread(() =>
        {
            var sink = new RecordingSink<int, int>();
            using var engine = ParallelEngine.Create(options, _ => make(), sink);
            for (int i = 0; i < count; i++) engine.Submit(i);
            engine.Drain();
            Assert.True(engine.Shutdown());
            return sink;
        }, deadlockSeconds);
    }

    /// <summary>Like <see cref="Workers"/>, and gives every worker <paramref name="make"/> made (replacements included), for the test to read their counts.</summary>
    public static (RecordingSink<int, int> Sink, IReadOnlyCollection<TWorker> Made) WorkersMade<TWorker>(EngineOptions options, int count, Func<TWorker> make)
        where TWorker : Worker<int, int>
    {
        var made = new ConcurrentBag<TWorker>();
        var sink = Workers(options, count, () =>
        {
            TWorker w = make();
            made.Add(w);
            return w;
        });
        return (sink, made);
    }

    /// <summary>Maps items through a delegate and returns the sink after a full drain and shutdown.</summary>
    public static (RecordingSink<int, int> Sink, Lifecycle Life, ParallelEngine<int, int> Engine) Map(EngineOptions options, IEnumerable<int> items, Action<int, ItemContext<int>, FuncWorker<int, int>> process, Action<RecordingSink<int, int>>? prepare = null, int deadlockSeconds = 120)
    {
        return OnThread(() =>
        {
            var life = new Lifecycle();
            var sink = new RecordingSink<int, int>();
            prepare?.Invoke(sink);
            using var engine = ParallelEngine.Create(options, _ => new FuncWorker<int, int>(life, process), sink);
            foreach (int i in items) engine.Submit(i);
            engine.Drain();
            Assert.True(engine.Shutdown());
            return (sink, life, engine);
        }, deadlockSeconds);
    }
}
