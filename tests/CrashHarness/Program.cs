using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using ParallelMap.Engine.Checkpoint;

namespace ParallelMap.CrashHarness;

/// <summary>
/// Runs a checkpointed batch the way the cmdlet will (one caller thread: ShouldRun, run,
/// RecordResult/RecordFailure, FlushIfDue now and then, Complete), so that a test can kill it at
/// any moment and resume. Modes:
/// <list type="bullet">
/// <item><c>run DIR --keys N --chunk C --seed S [--hook] [--fail-mod M] [--retry-failed] [--spin N]</c>:
/// the batch, keys in an order shuffled by S; prints "OPEN done failed" once the checkpoint is open,
/// "P n" after every 100 items run, and "DONE" at the end.</item>
/// <item><c>hold DIR</c>: opens the checkpoint, prints "HELD pid", waits for a line on stdin, releases.</item>
/// <item><c>open DIR</c>: tries to open; prints "OK" or "ERROR errorId holderPid".</item>
/// </list>
/// Exit codes: 0 done, 2 a checkpoint error (printed), 1 anything else.
/// </summary>
public static class Program
{
    public const string Fingerprint = "crash-harness-v1";

    public static int Main(string[] args)
    {
        try
        {
            string mode = args[0];
            string dir = args[1];
            switch (mode)
            {
                case "run": return Run(dir, args);
                case "hold": return Hold(dir);
                case "open": return TryOpen(dir);
                default: Console.Error.WriteLine("unknown mode " + mode); return 1;
            }
        }
        catch (CheckpointException e)
        {
            Console.WriteLine($"ERROR {e.ErrorId} {e.Holder?.ProcessId ?? 0}");
            Console.Error.WriteLine(e.Message);
            return 2;
        }
    }

    private static int Run(string dir, string[] args)
    {
        int keys = IntArg(args, "--keys", 1000);
        int chunk = IntArg(args, "--chunk", 16);
        int seed = IntArg(args, "--seed", 1);
        int failMod = IntArg(args, "--fail-mod", 0);
        int spin = IntArg(args, "--spin", 0);
        bool hook = args.Contains("--hook");
        bool retryFailed = args.Contains("--retry-failed");

        var options = new CheckpointOptions
        {
            Fingerprint = Fingerprint,
            ChunkSize = chunk,
            ChunkMaxAge = TimeSpan.FromMilliseconds(IntArg(args, "--max-age-ms", 5000)),
            SaveHook = hook ? HookChunk.Save : null,
            Metadata = new Dictionary<string, string> { ["harness"] = "crash" },
        };

        using CheckpointSession session = CheckpointStore.Open(dir, options);
        Console.WriteLine($"OPEN {session.DoneCount} {session.FailedCount}");
        Console.Out.Flush();

        var order = Enumerable.Range(0, keys).Select(Payloads.Key).ToArray();
        var rng = new Random(seed);
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }

        long sink = 0;
        int ran = 0;
        for (int i = 0; i < order.Length; i++)
        {
            string key = order[i];
            if (!session.ShouldRun(key, retryFailed))
            {
                continue;
            }

            // Progress for the test, which kills the run after a random number of these.
            if (++ran % 100 == 0)
            {
                Console.WriteLine("P " + ran);
            }

            for (int s = 0; s < spin; s++)
            {
                sink += s ^ key.Length;
            }

            if (Payloads.FailsFirstTime(key, failMod) && !retryFailed)
            {
                session.RecordFailure(key, Payloads.ErrorText(key), 1);
            }
            else
            {
                session.RecordResult(key, Payloads.For(key));
            }

            if ((i & 63) == 0)
            {
                session.FlushIfDue();
            }
        }

        session.Complete();
        Console.WriteLine("DONE " + (sink & 1));
        return 0;
    }

    private static int Hold(string dir)
    {
        using CheckpointSession session = CheckpointStore.Open(dir, new CheckpointOptions { Fingerprint = Fingerprint });
        Console.WriteLine($"HELD {session.Holder.ProcessId}");
        Console.Out.Flush();
        Console.In.ReadLine();
        return 0;
    }

    private static int TryOpen(string dir)
    {
        using CheckpointSession session = CheckpointStore.Open(dir, new CheckpointOptions { Fingerprint = Fingerprint });
        Console.WriteLine("OK");
        return 0;
    }

    private static int IntArg(string[] args, string name, int fallback)
    {
        int at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
    }
}

/// <summary>The deterministic results of the harness batch, so a test can check every one read back.</summary>
public static class Payloads
{
    public static string Key(int i) => "key-" + i.ToString("D6", CultureInfo.InvariantCulture);

    /// <summary>The result of a key: its name and a length that varies with it (0 to 299 filler bytes).</summary>
    public static byte[] For(string key)
    {
        uint h = Hash(key);
        var sb = new StringBuilder("result of ").Append(key).Append('|');
        sb.Append((char)('a' + (h % 26)), (int)(h % 300));
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    /// <summary>Whether the key fails when failures are not being retried (about one in <paramref name="mod"/>).</summary>
    public static bool FailsFirstTime(string key, int mod) => mod > 0 && Hash(key) % (uint)mod == 0;

    public static string ErrorText(string key) => "synthetic failure of " + key + "\nsecond line\twith a tab";

    private static uint Hash(string s)
    {
        uint h = 2166136261;
        foreach (char c in s)
        {
            h = (h ^ c) * 16777619;
        }

        return h;
    }
}

/// <summary>A save hook in its own format (one "key TAB base64" line per result), to crash-test the hook path.</summary>
public static class HookChunk
{
    public static void Save(string chunkPath, IReadOnlyList<byte[]> results, IReadOnlyList<string> keys)
    {
        // CreateNew: a store that ever handed out a used chunk name would fail the run here.
        using var fs = new FileStream(chunkPath, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        using var w = new StreamWriter(fs, new UTF8Encoding(false));
        for (int i = 0; i < keys.Count; i++)
        {
            w.Write(keys[i]);
            w.Write('\t');
            w.Write(Convert.ToBase64String(results[i]));
            w.Write('\n');
        }
    }

    /// <summary>Reads a hook chunk back: the lines that are complete.</summary>
    public static List<KeyValuePair<string, byte[]>> Read(string chunkPath)
    {
        var list = new List<KeyValuePair<string, byte[]>>();
        foreach (string line in File.ReadAllText(chunkPath, Encoding.UTF8).Split('\n'))
        {
            int tab = line.IndexOf('\t');
            if (tab > 0)
            {
                list.Add(new KeyValuePair<string, byte[]>(line.Substring(0, tab), Convert.FromBase64String(line.Substring(tab + 1))));
            }
        }

        return list;
    }
}
