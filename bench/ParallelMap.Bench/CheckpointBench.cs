using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using ParallelMap.Engine.Checkpoint;

namespace ParallelMap.Bench;

/// <summary>
/// Checkpoint store figures (issue 3):
/// <list type="bullet">
/// <item><c>journal_us_per_item</c>: what journaling adds per item, ShouldRun + RecordResult with
/// 64-byte payloads at the default chunk size (1000), everything the store does per commit included
/// (S, C and D records, the journal fsync per chunk) but with a save hook that writes no chunk data,
/// so the figure is the journal's and not the disk's bandwidth; measured after a warm-up pass.
/// Target: at most 5.</item>
/// <item><c>checkpoint_us_per_item</c>: the same with the store's own chunk writer (payload bytes
/// written and fsynced too), for context.</item>
/// <item><c>resume_1m_keys_s</c>: CheckpointStore.Open on a checkpoint whose journal records one
/// million keys done, until the session is ready to answer ShouldRun (lock, manifest, full journal
/// replay and check, chunk-folder scan). Median of 3 (1 in quick mode). Target: at most 2.</item>
/// </list>
/// </summary>
public static class CheckpointBench
{
    private const int ResumeKeys = 1_000_000;

    public static void Run(bool quick, Action<string, double, string> report)
    {
        string root = Path.Combine(Path.GetTempPath(), "pm-ckpt-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        try
        {
            int items = quick ? 100_000 : 500_000;

            // One warm-up pass so the figure is the steady per-item cost, not the JIT compiling the store.
            PerItem(Path.Combine(root, "warmup"), 20_000, hook: true);
            double journal = PerItem(Path.Combine(root, "journal"), items, hook: true);
            report("journal_us_per_item", journal, $"{items} items after a 20000-item warm-up, 64-byte payloads, chunks of 1000, no-op save hook; journal fsync per chunk included");

            double full = PerItem(Path.Combine(root, "full"), items / 2, hook: false);
            report("checkpoint_us_per_item", full, $"{items / 2} items with the store's own chunk writer (chunk write + fsync + rename included)");

            string big = Path.Combine(root, "resume");
            Fill(big, ResumeKeys);
            var times = new List<double>();
            long memory = 0;
            for (int i = 0; i < (quick ? 1 : 3); i++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                long before = GC.GetTotalMemory(true);
                var sw = Stopwatch.StartNew();
                using (CheckpointSession s = CheckpointStore.Open(big, Options(hook: true)))
                {
                    if (s.ShouldRun(Key(ResumeKeys - 1), false))
                    {
                        throw new InvalidOperationException("a done key would run again");
                    }

                    sw.Stop();
                    times.Add(sw.Elapsed.TotalSeconds);
                    memory = GC.GetTotalMemory(true) - before;
                    GC.KeepAlive(s);
                }
            }

            times.Sort();
            long journalBytes = new FileInfo(Path.Combine(big, "journal.log")).Length;
            report(
                "resume_1m_keys_s",
                times[times.Count / 2],
                string.Create(CultureInfo.InvariantCulture, $"median of {times.Count}; journal {journalBytes / 1048576.0:0.0} MiB; key table about {memory / 1048576.0:0} MiB ({memory / (double)ResumeKeys:0} bytes per key)"));
        }
        finally
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static string Key(int i) => "item-" + i.ToString("D7", CultureInfo.InvariantCulture);

    private static CheckpointOptions Options(bool hook) => new()
    {
        Fingerprint = "bench",
        ChunkSize = 1000,
        ChunkMaxAge = TimeSpan.FromMinutes(10),
        SaveHook = hook ? static (_, _, _) => { } : null,
    };

    private static double PerItem(string path, int items, bool hook)
    {
        var keys = new string[items];
        for (int i = 0; i < items; i++)
        {
            keys[i] = Key(i);
        }

        var payload = new byte[64];
        var sw = Stopwatch.StartNew();
        using (CheckpointSession s = CheckpointStore.Open(path, Options(hook)))
        {
            foreach (string key in keys)
            {
                if (s.ShouldRun(key, false))
                {
                    s.RecordResult(key, payload);
                }
            }

            s.Complete();
        }

        sw.Stop();
        return sw.Elapsed.TotalMilliseconds * 1000 / items;
    }

    private static void Fill(string path, int count)
    {
        var payload = new byte[16];
        using CheckpointSession s = CheckpointStore.Open(path, Options(hook: true));
        for (int i = 0; i < count; i++)
        {
            string key = Key(i);
            s.ShouldRun(key, false);
            s.RecordResult(key, payload);
        }

        s.Complete();
    }
}
