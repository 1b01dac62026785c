using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text;
using ParallelMap.Engine.Checkpoint;

namespace ParallelMap.Engine.Tests.Checkpoint;

/// <summary>A fresh folder under the temp directory, removed afterwards.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Root = Path.Combine(Path.GetTempPath(), "pm-ckpt-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
        Checkpoint = Path.Combine(Root, "ckpt");
    }

    public string Root { get; }

    /// <summary>A checkpoint path inside <see cref="Root"/> (not created).</summary>
    public string Checkpoint { get; }

    public string Journal => Path.Combine(Checkpoint, "journal.log");

    public string Manifest => Path.Combine(Checkpoint, "manifest.json");

    public string Chunks => Path.Combine(Checkpoint, "chunks");

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>Helpers shared by the checkpoint tests.</summary>
internal static class Ckpt
{
    /// <summary>Options whose fingerprint matches the crash harness's checkpoints.</summary>
    public static CheckpointOptions HarnessOptions() => new() { Fingerprint = ParallelMap.CrashHarness.Program.Fingerprint };

    public static CheckpointOptions Options(int chunkSize = 4, string fingerprint = "fp") => new()
    {
        Fingerprint = fingerprint,
        ChunkSize = chunkSize,
        ChunkMaxAge = TimeSpan.FromHours(1),
    };

    public static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);

    public static string Text(byte[] b) => Encoding.UTF8.GetString(b);

    /// <summary>Runs keys through a session: ShouldRun, then RecordResult with "value:key".</summary>
    public static void RunKeys(CheckpointSession s, IEnumerable<string> keys, bool retryFailed = false)
    {
        foreach (string key in keys)
        {
            if (s.ShouldRun(key, retryFailed))
            {
                s.RecordResult(key, Bytes("value:" + key));
            }
        }
    }

    public static Dictionary<string, string> ReadAll(string path)
    {
        var all = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (CheckpointResult r in CheckpointStore.ReadResults(path))
        {
            all.Add(r.Key, Text(r.Payload));
        }

        return all;
    }

    public static string Sha(string file)
    {
        using var sha = System.Security.Cryptography.SHA256.Create();
        return Convert.ToHexString(sha.ComputeHash(File.ReadAllBytes(file)));
    }

    /// <summary>A fingerprint of every file under a folder (names, sizes, contents), to show nothing changed.</summary>
    public static string FolderState(string folder, params string[] ignoreNames)
    {
        var sb = new StringBuilder();
        var files = Directory.GetFiles(folder, "*", SearchOption.AllDirectories);
        Array.Sort(files, StringComparer.Ordinal);
        foreach (string f in files)
        {
            if (Array.IndexOf(ignoreNames, Path.GetFileName(f)) >= 0)
            {
                continue;
            }

            sb.Append(Path.GetRelativePath(folder, f)).Append(' ').Append(Sha(f)).Append('\n');
        }

        return sb.ToString();
    }

    /// <summary>The harness program, built next to the tests through the project reference.</summary>
    public static string HarnessDll => Path.Combine(AppContext.BaseDirectory, "ParallelMap.CrashHarness.dll");

    public static Process StartHarness(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(HarnessDll);
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        return Process.Start(psi) ?? throw new InvalidOperationException("could not start the harness");
    }

    /// <summary>Reads stdout lines until one starts with <paramref name="prefix"/>; null if the process ends first.</summary>
    public static string? WaitForLine(Process p, string prefix)
    {
        while (true)
        {
            string? line = p.StandardOutput.ReadLine();
            if (line is null || line.StartsWith(prefix, StringComparison.Ordinal))
            {
                return line;
            }
        }
    }
}

/// <summary>
/// An independent reader of the journal, written from docs/checkpoint-format.md alone (with its
/// own bit-by-bit CRC-32), so the tests check the documented format and not just the store's own reader.
/// </summary>
internal static class JournalText
{
    public sealed record Line(long Offset, string Type, string[] Fields);

    public static (List<Line> Lines, bool Torn) Parse(string path)
    {
        byte[] all;
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            all = new byte[fs.Length];
            fs.ReadExactly(all);
        }

        var lines = new List<Line>();
        int pos = 0;
        while (pos < all.Length)
        {
            int lf = Array.IndexOf(all, (byte)'\n', pos);
            if (lf < 0)
            {
                return (lines, true);
            }

            string crcText = Encoding.ASCII.GetString(all, pos, 8);
            uint stored = uint.Parse(crcText, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            int body = pos + 9;
            if (all[pos + 8] != (byte)'\t' || NaiveCrc(all, body, lf - body) != stored)
            {
                if (lf == all.Length - 1)
                {
                    return (lines, true);
                }

                throw new InvalidDataException($"bad record at {pos}");
            }

            string[] parts = Encoding.UTF8.GetString(all, body, lf - body).Split('\t');
            var fields = new string[parts.Length - 1];
            for (int i = 1; i < parts.Length; i++)
            {
                fields[i - 1] = Unescape(parts[i]);
            }

            lines.Add(new Line(pos, parts[0], fields));
            pos = lf + 1;
        }

        return (lines, false);
    }

    public static uint NaiveCrc(byte[] data, int offset, int count)
    {
        uint c = 0xFFFFFFFF;
        for (int i = offset; i < offset + count; i++)
        {
            c ^= data[i];
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            }
        }

        return ~c;
    }

    /// <summary>How many D (done) records each key has.</summary>
    public static Dictionary<string, int> DoneCounts(string path)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (Line l in Parse(path).Lines)
        {
            if (l.Type == "D")
            {
                counts[l.Fields[2]] = counts.GetValueOrDefault(l.Fields[2]) + 1;
            }
        }

        return counts;
    }

    private static string Unescape(string s)
    {
        if (s.IndexOf('\\') < 0)
        {
            return s;
        }

        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] != '\\')
            {
                sb.Append(s[i]);
                continue;
            }

            char e = s[++i];
            sb.Append(e switch { '\\' => '\\', 't' => '\t', 'n' => '\n', 'r' => '\r', _ => throw new InvalidDataException("bad escape") });
        }

        return sb.ToString();
    }
}
