using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using ParallelMap.Engine.Checkpoint;
using Xunit;

namespace ParallelMap.Engine.Tests.Checkpoint;

public class CheckpointDamageTests
{
    private static void MakeCheckpoint(TempFolder t, int keys = 6, int chunkSize = 2)
    {
        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(chunkSize));
        Ckpt.RunKeys(s, Enumerable.Range(0, keys).Select(i => "k" + i));
        s.Complete();
    }

    [Fact]
    public void Open_UnterminatedLastRecord_DropsItCutsItOffAndResumes()
    {
        using var t = new TempFolder();
        MakeCheckpoint(t);
        long valid = new FileInfo(t.Journal).Length;
        File.AppendAllText(t.Journal, "0badc0de\tD\t9\t0\tk-torn");
        string before = Ckpt.Sha(t.Journal);

        CheckpointSummary summary = CheckpointStore.ReadSummary(t.Checkpoint);
        Assert.True(summary.HasTornTail);
        Assert.Equal(6, summary.Done);
        Assert.Equal(before, Ckpt.Sha(t.Journal)); // readers never change the file

        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(2)))
        {
            Assert.True(s.DroppedTornTail);
            Assert.Equal(6, s.DoneCount);
            Ckpt.RunKeys(s, new[] { "k6" });
            s.Complete();
        }

        var (lines, torn) = JournalText.Parse(t.Journal);
        Assert.False(torn);
        Assert.DoesNotContain(lines, l => l.Fields.Contains("k-torn"));
        Assert.Contains(lines, l => l.Type == "R" && l.Offset == valid); // the new run starts where the good records ended
        Assert.Equal(7, Ckpt.ReadAll(t.Checkpoint).Count);
    }

    [Fact]
    public void Open_LastLineFailsChecksum_TreatsItAsTorn()
    {
        using var t = new TempFolder();
        MakeCheckpoint(t);
        File.AppendAllText(t.Journal, "00000000\tS\tgarbage\n");

        Assert.True(CheckpointStore.ReadSummary(t.Checkpoint).HasTornTail);
        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(2));
        Assert.True(s.DroppedTornTail);
        Assert.Equal(6, s.DoneCount);
    }

    [Fact]
    public void Open_CommitTornMidway_KeysJournaledAreDoneTheRestRerunOnce()
    {
        using var t = new TempFolder();
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(4)))
        {
            Ckpt.RunKeys(s, new[] { "a", "b", "c", "d" });
        }

        // Cut the journal inside the third D record of the commit: a and b stay done, c is torn, d is lost.
        byte[] bytes = File.ReadAllBytes(t.Journal);
        int cAt = Encoding.UTF8.GetString(bytes).IndexOf("\tD\t1\t2\tc", StringComparison.Ordinal);
        File.WriteAllBytes(t.Journal, bytes.Take(cAt + 4).ToArray());

        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(4)))
        {
            Assert.True(s.DroppedTornTail);
            Assert.True(s.IsDone("a") && s.IsDone("b"));
            Assert.False(s.IsDone("c") || s.IsDone("d"));
            Ckpt.RunKeys(s, new[] { "a", "b", "c", "d" });
            s.Complete();
        }

        Assert.Equal(new[] { "a", "b", "c", "d" }, Ckpt.ReadAll(t.Checkpoint).Keys.OrderBy(k => k));
        Assert.All(JournalText.DoneCounts(t.Journal).Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public void Open_DamageInMiddleOfJournal_ThrowsCorruptNamingFileAndOffsetAndChangesNothing()
    {
        using var t = new TempFolder();
        MakeCheckpoint(t);
        var (lines, _) = JournalText.Parse(t.Journal);
        JournalText.Line victim = lines.First(l => l.Type == "D");
        byte[] bytes = File.ReadAllBytes(t.Journal);
        bytes[victim.Offset + 12] ^= 0x20; // one flipped bit inside the record body
        File.WriteAllBytes(t.Journal, bytes);
        string state = Ckpt.FolderState(t.Checkpoint);

        var e = Assert.Throws<CheckpointException>(() => CheckpointStore.Open(t.Checkpoint, Ckpt.Options(2)));

        Assert.Equal(CheckpointErrorIds.CheckpointCorrupt, e.ErrorId);
        Assert.Equal(Path.GetFullPath(t.Journal), e.FilePath);
        Assert.Equal(victim.Offset, e.Offset);
        Assert.Contains("offset " + victim.Offset, e.Message);
        Assert.Contains("journal.log", e.Message);
        Assert.Equal(state, Ckpt.FolderState(t.Checkpoint));
        Assert.False(File.Exists(Path.Combine(t.Checkpoint, "lock.holder")));
        Assert.Equal(CheckpointErrorIds.CheckpointCorrupt, Assert.Throws<CheckpointException>(() => CheckpointStore.ReadSummary(t.Checkpoint)).ErrorId);
    }

    [Fact]
    public void ReadSummary_DamageInMiddleOfJournal_ThrowsCorrupt()
    {
        using var t = new TempFolder();
        MakeCheckpoint(t);
        byte[] bytes = File.ReadAllBytes(t.Journal);
        int second = Array.IndexOf(bytes, (byte)'\n') + 1;
        bytes[second] = (byte)'z'; // not a hex digit: the checksum field is broken
        File.WriteAllBytes(t.Journal, bytes);

        var e = Assert.Throws<CheckpointException>(() => CheckpointStore.ReadSummary(t.Checkpoint));
        Assert.Equal(CheckpointErrorIds.CheckpointCorrupt, e.ErrorId);
        Assert.Equal(second, e.Offset);
        Assert.Throws<CheckpointException>(() => CheckpointStore.ReadResults(t.Checkpoint).ToList());
    }

    [Fact]
    public void Open_ValidRecordOfUnknownTypeInMiddle_ThrowsCorrupt()
    {
        using var t = new TempFolder();
        MakeCheckpoint(t);
        byte[] body = Encoding.UTF8.GetBytes("Q\tsomething");
        string line = JournalText.NaiveCrc(body, 0, body.Length).ToString("x8") + "\t" + "Q\tsomething\n";
        string journal = File.ReadAllText(t.Journal);
        int secondLine = journal.IndexOf('\n') + 1;
        File.WriteAllText(t.Journal, journal.Insert(secondLine, line));

        var e = Assert.Throws<CheckpointException>(() => CheckpointStore.Open(t.Checkpoint, Ckpt.Options(2)));
        Assert.Equal(CheckpointErrorIds.CheckpointCorrupt, e.ErrorId);
        Assert.Equal(secondLine, e.Offset);
        Assert.Contains("unknown record type", e.Message);
    }

    [Fact]
    public void ReadResults_ChunkPayloadDamaged_ThrowsCorruptNamingChunkFile()
    {
        using var t = new TempFolder();
        MakeCheckpoint(t);
        string chunk = Path.Combine(t.Chunks, "00000002.chunk");
        byte[] bytes = File.ReadAllBytes(chunk);
        bytes[^6] ^= 1; // inside the last entry's payload
        File.WriteAllBytes(chunk, bytes);

        var e = Assert.Throws<CheckpointException>(() => CheckpointStore.ReadResults(t.Checkpoint).ToList());

        Assert.Equal(CheckpointErrorIds.CheckpointCorrupt, e.ErrorId);
        Assert.Equal(Path.GetFullPath(chunk), e.FilePath);
        Assert.Contains("checksum", e.Message);
        Assert.Single(CheckpointStore.ReadResults(t.Checkpoint, new[] { "k4" })); // other chunks still read
    }

    [Fact]
    public void ReadResults_ChunkFileMissing_ThrowsCorruptNamingIt()
    {
        using var t = new TempFolder();
        MakeCheckpoint(t);
        File.Delete(Path.Combine(t.Chunks, "00000001.chunk"));

        var e = Assert.Throws<CheckpointException>(() => CheckpointStore.ReadResults(t.Checkpoint).ToList());
        Assert.Equal(CheckpointErrorIds.CheckpointCorrupt, e.ErrorId);
        Assert.Contains("00000001.chunk", e.Message);
    }

    [Fact]
    public void Open_ManifestUnknownVersion_ThrowsVersionUnsupportedAndChangesNothing()
    {
        using var t = new TempFolder();
        MakeCheckpoint(t);
        File.WriteAllText(t.Manifest, File.ReadAllText(t.Manifest).Replace("\"version\": 1", "\"version\": 7", StringComparison.Ordinal));
        string state = Ckpt.FolderState(t.Checkpoint);

        var e = Assert.Throws<CheckpointException>(() => CheckpointStore.Open(t.Checkpoint, Ckpt.Options(2)));

        Assert.Equal(CheckpointErrorIds.CheckpointVersionUnsupported, e.ErrorId);
        Assert.Contains("version 7", e.Message);
        Assert.Equal(state, Ckpt.FolderState(t.Checkpoint));
        Assert.Equal(CheckpointErrorIds.CheckpointVersionUnsupported, Assert.Throws<CheckpointException>(() => CheckpointStore.ReadSummary(t.Checkpoint)).ErrorId);
    }

    [Fact]
    public void Open_JournalHeaderUnknownVersion_ThrowsVersionUnsupported()
    {
        using var t = new TempFolder();
        MakeCheckpoint(t);
        string journal = File.ReadAllText(t.Journal);
        byte[] body = Encoding.UTF8.GetBytes("H\t2");
        string header = JournalText.NaiveCrc(body, 0, body.Length).ToString("x8") + "\tH\t2\n";
        File.WriteAllText(t.Journal, header + journal.Substring(journal.IndexOf('\n') + 1));

        var e = Assert.Throws<CheckpointException>(() => CheckpointStore.Open(t.Checkpoint, Ckpt.Options(2)));
        Assert.Equal(CheckpointErrorIds.CheckpointVersionUnsupported, e.ErrorId);
    }

    [Fact]
    public void Open_ManifestNotJson_ThrowsCorrupt()
    {
        using var t = new TempFolder();
        MakeCheckpoint(t);
        File.WriteAllText(t.Manifest, "{ \"format\": \"ParallelMap.Checkpoint\", \"version\": 1, ");
        var e = Assert.Throws<CheckpointException>(() => CheckpointStore.Open(t.Checkpoint, Ckpt.Options(2)));
        Assert.Equal(CheckpointErrorIds.CheckpointCorrupt, e.ErrorId);
        Assert.Equal(Path.GetFullPath(t.Manifest), e.FilePath);
    }

    [Fact]
    public void Open_ManifestMissingButJournalPresent_ThrowsCorrupt()
    {
        using var t = new TempFolder();
        MakeCheckpoint(t);
        File.Delete(t.Manifest);
        Assert.Equal(CheckpointErrorIds.CheckpointCorrupt, Assert.Throws<CheckpointException>(() => CheckpointStore.Open(t.Checkpoint, Ckpt.Options(2))).ErrorId);
        Assert.True(File.Exists(t.Journal));
    }

    [Fact]
    public void Open_FingerprintChanged_ThrowsMismatchUnlessAllowed()
    {
        using var t = new TempFolder();
        MakeCheckpoint(t);

        var e = Assert.Throws<CheckpointException>(() => CheckpointStore.Open(t.Checkpoint, Ckpt.Options(2, fingerprint: "other batch")));
        Assert.Equal(CheckpointErrorIds.CheckpointFingerprintMismatch, e.ErrorId);
        Assert.Contains("'fp'", e.Message);
        Assert.Contains("'other batch'", e.Message);

        var allowed = Ckpt.Options(2, fingerprint: "other batch");
        allowed.AllowFingerprintMismatch = true;
        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, allowed);
        Assert.Equal("fp", s.Manifest.Fingerprint);
    }

    [Fact]
    public void Open_ReadOnlyFolder_ThrowsNotWritableWhileReadersStillWork()
    {
        using var t = new TempFolder();
        MakeCheckpoint(t);
        string state = Ckpt.FolderState(t.Checkpoint);
        using (ReadOnly.Make(t.Checkpoint))
        {
            var e = Assert.Throws<CheckpointException>(() => CheckpointStore.Open(t.Checkpoint, Ckpt.Options(2)));
            Assert.Equal(CheckpointErrorIds.CheckpointNotWritable, e.ErrorId);
            Assert.Contains(Path.GetFullPath(t.Checkpoint), e.Message);

            Assert.Equal(6, CheckpointStore.ReadSummary(t.Checkpoint).Done);
            Assert.Equal(6, Ckpt.ReadAll(t.Checkpoint).Count);
        }

        Assert.Equal(state, Ckpt.FolderState(t.Checkpoint));
    }

    [Fact]
    public void Open_NewCheckpointInReadOnlyParent_ThrowsNotWritable()
    {
        using var t = new TempFolder();
        string parent = Path.Combine(t.Root, "ro");
        Directory.CreateDirectory(parent);
        using (ReadOnly.Make(parent))
        {
            var e = Assert.Throws<CheckpointException>(() => CheckpointStore.Open(Path.Combine(parent, "new"), Ckpt.Options()));
            Assert.Equal(CheckpointErrorIds.CheckpointNotWritable, e.ErrorId);
        }
    }
}

/// <summary>
/// Makes a folder read-only for this process: write permission removed, and, when that does not
/// bind (the tests run as root, which ignores permissions), the immutable attribute (chattr +i),
/// which binds root too. Undone on dispose.
/// </summary>
internal sealed class ReadOnly : IDisposable
{
    private readonly string folder;
    private readonly List<(string Path, UnixFileMode Mode)> modes = new();
    private bool immutable;

    private ReadOnly(string folder) => this.folder = folder;

    public static ReadOnly Make(string folder)
    {
        var r = new ReadOnly(folder);
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("the read-only folder tests run on Unix");
        }

        foreach (string p in Directory.GetFileSystemEntries(folder, "*", SearchOption.AllDirectories).Append(folder))
        {
            UnixFileMode mode = File.GetUnixFileMode(p);
            r.modes.Add((p, mode));
            File.SetUnixFileMode(p, mode & ~(UnixFileMode.UserWrite | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite));
        }

        if (CanWrite(folder))
        {
            Chattr("+i", folder);
            r.immutable = true;
            Assert.False(CanWrite(folder), "could not make a read-only folder here (neither permissions nor chattr +i bind)");
        }

        return r;
    }

    public void Dispose()
    {
        if (immutable)
        {
            Chattr("-i", folder);
        }

        foreach (var (path, mode) in modes)
        {
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, mode);
            }
        }
    }

    private static bool CanWrite(string folder)
    {
        string probe = Path.Combine(folder, ".probe");
        try
        {
            File.WriteAllText(probe, "x");
            File.Delete(probe);
            return true;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static void Chattr(string flag, string folder)
    {
        using var p = Process.Start(new ProcessStartInfo("chattr", new[] { "-R", flag, folder }) { RedirectStandardError = true })!;
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, "chattr " + flag + " failed: " + p.StandardError.ReadToEnd());
    }
}
