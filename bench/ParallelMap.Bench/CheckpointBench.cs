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
/// replay and check, chunk-folder scan). Median of 3 (1 in quick mode). Target: at most 2.
/// Its chunks are a save hook's, which the store does not check.</item>
/// <item><c>resume_1m_keys_own_chunks_s</c>: the same with the store's own chunk files (1000 of
/// 1000 entries, 100-byte payloads, about the CliXml of a short string), which Open checks
/// (exists, entry count, lengths up to the end of the file); and, for context,
/// <c>read_1m_results_s</c>: ReadResults over them, which reads and CRC-checks every byte.</item>
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
            Fill(big, ResumeKeys, hook: true, payloadBytes: 16);
            var (median, runs, memory) = Resume(big, quick, hook: true);
            long journalBytes = new FileInfo(Path.Combine(big, "journal.log")).Length;
            report(
                "resume_1m_keys_s",
                median,
                string.Create(CultureInfo.InvariantCulture, $"median of {runs}; journal {journalBytes / 1048576.0:0.0} MiB; key table about {memory / 1048576.0:0} MiB ({memory / (double)ResumeKeys:0} bytes per key)"));
            Directory.Delete(big, recursive: true);

            string own = Path.Combine(root, "resume-own");
            Fill(own, ResumeKeys, hook: false, payloadBytes: 100);
            (median, runs, _) = Resume(own, quick, hook: false);
            long chunkBytes = 0;
            foreach (string f in Directory.EnumerateFiles(Path.Combine(own, "chunks")))
            {
                chunkBytes += new FileInfo(f).Length;
            }

            report(
                "resume_1m_keys_own_chunks_s",
                median,
                string.Create(CultureInfo.InvariantCulture, $"median of {runs}; 1000 chunk files of 1000 entries, {chunkBytes / 1048576.0:0.0} MiB, structure checked"));

            var read = Stopwatch.StartNew();
            long results = 0;
            foreach (CheckpointResult _ in CheckpointStore.ReadResults(own))
            {
                results++;
            }

            read.Stop();
            if (results != ResumeKeys)
            {
                throw new InvalidOperationException("ReadResults returned " + results + " results");
            }

            report("read_1m_results_s", read.Elapsed.TotalSeconds, "ReadResults over the same chunks: every entry read and CRC-checked, for comparison");
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

    /// <summary>Opens the filled checkpoint until it answers ShouldRun: median seconds, runs, key-table bytes.</summary>
    private static (double Median, int Runs, long Memory) Resume(string path, bool quick, bool hook)
    {
        var times = new List<double>();
        long memory = 0;
        for (int i = 0; i < (quick ? 1 : 3); i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            long before = GC.GetTotalMemory(true);
            var sw = Stopwatch.StartNew();
            using (CheckpointSession s = CheckpointStore.Open(path, Options(hook)))
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
        return (times[times.Count / 2], times.Count, memory);
    }

    private static void Fill(string path, int count, bool hook, int payloadBytes)
    {
        var payload = new byte[payloadBytes];
        using CheckpointSession s = CheckpointStore.Open(path, Options(hook));
        for (int i = 0; i < count; i++)
        {
            string key = Key(i);
            s.ShouldRun(key, false);
            s.RecordResult(key, payload);
        }

        s.Complete();
    }
}
