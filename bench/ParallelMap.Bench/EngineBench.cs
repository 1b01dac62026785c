using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ParallelMap.Engine;

namespace ParallelMap.Bench;

/// <summary>
/// Engine figures. Each is measured against a peer in the same process run, interleaved and
/// repeated, and reported as the median ratio, so the figure does not depend on the machine.
/// </summary>
public static class EngineBench
{
    public static void Run(bool quick, Action<string, double, string> report)
    {
        int reps = quick ? 3 : 9;
        int noopItems = 1_000_000;

        // Warm up both sides so tiering and the thread pool are settled before measuring.
        EngineNoop(200_000, ordered: false);
        ForEachAsyncNoop(200_000);
        ChannelNoop(200_000);

        var ratios = new List<double>();
        var channelRatios = new List<double>();
        var engineRates = new List<double>();
        var peerRates = new List<double>();
        var channelRates = new List<double>();
        for (int r = 0; r < reps; r++)
        {
            double peer = ForEachAsyncNoop(noopItems);
            double ours = EngineNoop(noopItems, ordered: false);
            double channel = ChannelNoop(noopItems);
            peerRates.Add(peer);
            engineRates.Add(ours);
            channelRates.Add(channel);
            ratios.Add(ours / peer);
            channelRatios.Add(ours / channel);
        }

        report("noop_ratio_vs_parallel_foreachasync", Median(ratios), $"engine {Median(engineRates):N0}/s, Parallel.ForEachAsync {Median(peerRates):N0}/s, {noopItems:N0} items, throttle 2, target >= 1.0");
        report("noop_ratio_vs_channels", Median(channelRatios), $"engine {Median(engineRates):N0}/s, bounded-channel reference {Median(channelRates):N0}/s (2 dedicated consumer threads, capacity 1,024 in and out), {noopItems:N0} items; above 1 the engine is faster");

        var times = new List<double>();
        for (int r = 0; r < (quick ? 3 : 5); r++) times.Add(SleepRun(2000, 10, 64));

        // The ideal schedule: 64 workers need ceil(2000 / 64) = 32 rounds of 10 ms; no scheduler
        // can finish sooner (2000 x 10 / 64 = 312.5 ms would need fractional rounds).
        double ideal = Math.Ceiling(2000 / 64.0) * 10.0;
        report("sleep_efficiency", ideal / Median(times), $"ideal {ideal:0} ms (32 rounds of 10 ms), measured median {Median(times):0} ms (2000 x 10 ms Thread.Sleep at throttle 64), target >= 0.95");

        var channelTimes = new List<double>();
        for (int r = 0; r < (quick ? 3 : 5); r++) channelTimes.Add(ChannelSleepRun(2000, 10, 64));
        report("sleep_efficiency_channels", ideal / Median(channelTimes), $"the bounded-channel reference on the same run (64 dedicated consumer threads): median {Median(channelTimes):0} ms against the engine's {Median(times):0} ms");

        var ordered = new List<double>();
        for (int r = 0; r < reps; r++)
        {
            double u = EngineNoop(noopItems, ordered: false);
            double o = EngineNoop(noopItems, ordered: true);
            ordered.Add(o / u);
        }

        report("ordered_ratio", Median(ordered), "ordered over unordered no-op throughput, target >= 0.8");

        double small = StreamPeakMb(1_000_000);
        double big = StreamPeakMb(10_000_000);
        report("stream_peak_mb", big, $"peak working-set growth streaming 10,000,000 items; 1,000,000 items: {small:0.0} MB (flat means about equal); target <= 50");
    }

    private static double Median(List<double> xs)
    {
        var s = xs.OrderBy(x => x).ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    private sealed class CountingSink : IEngineSink<int, int>
    {
        public long Count;
        public long Sum;

        public void OnOutcome(ItemOutcome<int, int> outcome)
        {
            Count++;
            Sum += outcome.Input;
        }

        public void OnRecord(WorkerRecord<int> record)
        {
        }

        public void OnWait()
        {
        }
    }

    private sealed class NoopWorker : Worker<int, int>
    {
        protected override void Process(int input, ItemContext<int> context)
        {
        }
    }

    private sealed class SleepWorker : Worker<int, int>
    {
        private readonly int _ms;

        public SleepWorker(int ms) => _ms = ms;

        protected override void Process(int input, ItemContext<int> context) => Thread.Sleep(_ms);
    }

    /// <summary>Items per second through the engine, outcomes consumed on the caller thread.</summary>
    private static double EngineNoop(int n, bool ordered)
    {
        var sink = new CountingSink();
        var sw = Stopwatch.StartNew();
        using (var engine = ParallelEngine.Create(new EngineOptions { ThrottleLimit = 2, Ordered = ordered }, _ => new NoopWorker(), sink))
        {
            for (int i = 0; i < n; i++) engine.Submit(i);
            engine.Drain();
        }

        sw.Stop();
        if (sink.Count != n) throw new InvalidOperationException($"lost outcomes: {sink.Count} of {n}");
        return n / sw.Elapsed.TotalSeconds;
    }

    /// <summary>Items per second through Parallel.ForEachAsync with the same degree of parallelism, results consumed.</summary>
    private static double ForEachAsyncNoop(int n)
    {
        long count = 0;
        var sw = Stopwatch.StartNew();
        Parallel.ForEachAsync(Enumerable.Range(0, n), new ParallelOptions { MaxDegreeOfParallelism = 2 }, (i, _) =>
        {
            Interlocked.Increment(ref count);
            return ValueTask.CompletedTask;
        }).GetAwaiter().GetResult();
        sw.Stop();
        if (count != n) throw new InvalidOperationException("lost items");
        return n / sw.Elapsed.TotalSeconds;
    }

    /// <summary>Items per second through the bounded-channel reference, 2 consumer threads, outcomes consumed on the caller thread.</summary>
    private static double ChannelNoop(int n)
    {
        long count = 0, sum = 0;
        var sw = Stopwatch.StartNew();
        using (var reference = new ChannelReference<int, int>(2, i => i, o => { count++; sum += o.Input; }))
        {
            for (int i = 0; i < n; i++) reference.Submit(i);
            reference.Drain();
        }

        sw.Stop();
        if (count != n) throw new InvalidOperationException($"lost outcomes: {count} of {n}");
        return n / sw.Elapsed.TotalSeconds;
    }

    private static double ChannelSleepRun(int n, int ms, int consumers)
    {
        long count = 0;
        var sw = Stopwatch.StartNew();
        using (var reference = new ChannelReference<int, int>(consumers, i => { Thread.Sleep(ms); return i; }, _ => count++))
        {
            for (int i = 0; i < n; i++) reference.Submit(i);
            reference.Drain();
        }

        sw.Stop();
        if (count != n) throw new InvalidOperationException("lost outcomes");
        return sw.Elapsed.TotalMilliseconds;
    }

    private static double SleepRun(int n, int ms, int throttle)
    {
        var sink = new CountingSink();
        var sw = Stopwatch.StartNew();
        using (var engine = ParallelEngine.Create(new EngineOptions { ThrottleLimit = throttle }, _ => new SleepWorker(ms), sink))
        {
            for (int i = 0; i < n; i++) engine.Submit(i);
            engine.Drain();
        }

        sw.Stop();
        return sw.Elapsed.TotalMilliseconds;
    }

    /// <summary>Peak growth of the working set, in MB, while n items stream to a consumer.</summary>
    private static double StreamPeakMb(int n)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var proc = Process.GetCurrentProcess();
        proc.Refresh();
        long baseline = proc.WorkingSet64;
        long peak = baseline;
        bool done = false;
        var sampler = new Thread(() =>
        {
            using var p = Process.GetCurrentProcess();
            while (!Volatile.Read(ref done))
            {
                p.Refresh();
                long ws = p.WorkingSet64;
                if (ws > Interlocked.Read(ref peak)) Interlocked.Exchange(ref peak, ws);
                Thread.Sleep(10);
            }
        }) { IsBackground = true };
        sampler.Start();
        var sink = new CountingSink();
        using (var engine = ParallelEngine.Create(new EngineOptions { ThrottleLimit = 2 }, _ => new NoopWorker(), sink))
        {
            for (int i = 0; i < n; i++) engine.Submit(i);
            engine.Drain();
        }

        Volatile.Write(ref done, true);
        sampler.Join();
        if (sink.Count != n) throw new InvalidOperationException("lost outcomes");
        return (Interlocked.Read(ref peak) - baseline) / (1024.0 * 1024.0);
    }
}
