using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using ParallelMap.CrashHarness;
using ParallelMap.Engine.Checkpoint;
using Xunit;
using Xunit.Abstractions;

namespace ParallelMap.Engine.Tests.Checkpoint;

/// <summary>
/// The crash harness (tests/CrashHarness) runs a checkpointed batch in its own process; these tests
/// SIGKILL it at random moments (8 kills per scenario, 24 in all), check after every kill that what
/// the checkpoint says is done is there, correct and recorded once, and finally resume to the end.
/// Every seed is logged, so a failure can be replayed: the master seed picks each run's shuffle
/// seed, the number of items after which to kill, and an extra delay of up to 5 ms.
/// </summary>
public class CheckpointCrashTests
{
    private const int Keys = 20_000;
    private const int KillsPerScenario = 8;

    private readonly ITestOutputHelper output;

    public CheckpointCrashTests(ITestOutputHelper output) => this.output = output;

    [Theory]
    [InlineData("default", 20261121)]
    [InlineData("hook", 5551212)]
    [InlineData("failures", 86753)]
    public void Run_KilledAtRandomMoments_ResumeCompletesEveryKeyExactlyOnce(string scenario, int masterSeed)
    {
        using var t = new TempFolder();
        var rng = new Random(masterSeed);
        string[] extra = scenario switch
        {
            "hook" => new[] { "--hook" },
            "failures" => new[] { "--fail-mod", "7", "--max-age-ms", "15" },
            _ => Array.Empty<string>(),
        };
        output.WriteLine($"scenario {scenario}, master seed {masterSeed}, {Keys} keys, folder {t.Checkpoint}");

        int kills = 0;
        while (kills < KillsPerScenario)
        {
            int seed = rng.Next();
            int afterItems = rng.Next(1, 15) * 100;
            int delayMicros = rng.Next(0, 5000);
            using Process p = StartRun(t, seed, extra);
            string? reached = Ckpt.WaitForLine(p, "P " + afterItems.ToString(CultureInfo.InvariantCulture));
            Spin(delayMicros);
            bool killed = !p.HasExited;
            if (killed)
            {
                p.Kill(); // SIGKILL on Unix
            }

            p.WaitForExit();
            output.WriteLine($"run seed {seed}: kill after {afterItems} items + {delayMicros} us: {(killed ? "killed" : "exited " + p.ExitCode)}");
            Assert.True(killed, $"the run ended before it was killed (exit {p.ExitCode}, reached '{reached}'): {p.StandardError.ReadToEnd()}");
            kills++;
            CheckWhatIsDone(t, scenario, complete: false);
        }

        if (scenario == "failures")
        {
            var failures = CheckpointStore.ReadFailures(t.Checkpoint);
            Assert.NotEmpty(failures);
            Assert.All(failures, f => Assert.Equal(Payloads.ErrorText(f.Key), f.ErrorText));
            Assert.All(failures, f => Assert.Equal(1, f.Attempts));
        }

        using (Process last = StartRun(t, rng.Next(), extra.Append("--retry-failed").ToArray()))
        {
            string stdout = last.StandardOutput.ReadToEnd();
            last.WaitForExit();
            Assert.True(last.ExitCode == 0, stdout + last.StandardError.ReadToEnd());
            Assert.Contains("DONE", stdout);
        }

        CheckWhatIsDone(t, scenario, complete: true);
        CheckpointSummary summary = CheckpointStore.ReadSummary(t.Checkpoint);
        output.WriteLine($"final: {summary.Done} done, {summary.Chunks} chunks over {summary.Runs} runs");
        Assert.Equal(Keys, summary.Seen);
        Assert.Equal(0, summary.Failed);
        Assert.Equal(0, summary.Pending);
        Assert.Equal(KillsPerScenario + 1, summary.Runs);
        Assert.True(summary.LastRunCompleted);
    }

    private static Process StartRun(TempFolder t, int seed, string[] extra)
        => Ckpt.StartHarness(new[] { "run", t.Checkpoint, "--keys", Keys.ToString(CultureInfo.InvariantCulture), "--chunk", "10", "--seed", seed.ToString(CultureInfo.InvariantCulture) }.Concat(extra).ToArray());

    private static void Spin(int micros)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalMilliseconds * 1000 < micros)
        {
        }
    }

    /// <summary>Every key the journal records done is recorded once, and its saved result reads back and is correct.</summary>
    private static void CheckWhatIsDone(TempFolder t, string scenario, bool complete)
    {
        Dictionary<string, int> doneCounts = JournalText.DoneCounts(t.Journal);
        Assert.All(doneCounts, kv => Assert.True(kv.Value == 1, $"key {kv.Key} is recorded done {kv.Value} times"));
        CheckpointSummary summary = CheckpointStore.ReadSummary(t.Checkpoint);
        Assert.Equal(doneCounts.Count, summary.Done);

        var read = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        if (scenario == "hook")
        {
            foreach (var chunk in CheckpointStore.ReadIndex(t.Checkpoint).GroupBy(e => e.ChunkPath))
            {
                var entries = HookChunk.Read(chunk.Key);
                foreach (CheckpointIndexEntry e in chunk)
                {
                    Assert.True(e.SavedByHook);
                    Assert.Equal(e.Key, entries[e.Index].Key);
                    read.Add(e.Key, entries[e.Index].Value);
                }
            }
        }
        else
        {
            foreach (CheckpointResult r in CheckpointStore.ReadResults(t.Checkpoint))
            {
                read.Add(r.Key, r.Payload); // Add throws on a key read twice
            }
        }

        Assert.Equal(doneCounts.Keys.OrderBy(k => k, StringComparer.Ordinal), read.Keys.OrderBy(k => k, StringComparer.Ordinal));
        Assert.All(read, kv => Assert.Equal(Payloads.For(kv.Key), kv.Value));
        if (complete)
        {
            Assert.Equal(Enumerable.Range(0, Keys).Select(Payloads.Key).OrderBy(k => k, StringComparer.Ordinal), read.Keys.OrderBy(k => k, StringComparer.Ordinal));
        }
    }
}
