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

    /// <summary>Open and ReadSummary both refuse, with CheckpointCorrupt naming <paramref name="file"/>, and the folder is as it was.</summary>
    private static CheckpointException AssertOpenAndSummaryRefuse(TempFolder t, string file)
    {
        string state = Ckpt.FolderState(t.Checkpoint);
        bool chunksFolder = Directory.Exists(t.Chunks);

        var summary = Assert.Throws<CheckpointException>(() => CheckpointStore.ReadSummary(t.Checkpoint));
        Assert.Equal(CheckpointErrorIds.CheckpointCorrupt, summary.ErrorId);
        Assert.Equal(Path.GetFullPath(file), summary.FilePath);
        Assert.Contains(Path.GetFileName(file), summary.Message);

        var e = Assert.Throws<CheckpointException>(() => CheckpointStore.Open(t.Checkpoint, Ckpt.Options(2)));
        Assert.Equal(CheckpointErrorIds.CheckpointCorrupt, e.ErrorId);
        Assert.Equal(Path.GetFullPath(file), e.FilePath);
        Assert.Contains(Path.GetFileName(file), e.Message);

        Assert.Equal(state, Ckpt.FolderState(t.Checkpoint));
        Assert.Equal(chunksFolder, Directory.Exists(t.Chunks));
        Assert.False(File.Exists(Path.Combine(t.Checkpoint, "lock.holder")));
        return e;
    }

    [Fact]
    public void Open_ReferencedChunkMissing_ThrowsCorruptNamingItAndChangesNothing()
    {
        using var t = new TempFolder();
        MakeCheckpoint(t);
        string chunk = Path.Combine(t.Chunks, "00000002.chunk");
        File.Delete(chunk);

        CheckpointException e = AssertOpenAndSummaryRefuse(t, chunk);
        Assert.Contains("does not exist", e.Message);
    }

    [Theory]
    [InlineData(1)] // the last entry's CRC cut short
    [InlineData(7)] // inside the last payload
    [InlineData(-1)] // cut inside the header: 4 bytes left
    [InlineData(0)] // emptied
    public void Open_ReferencedChunkTruncated_ThrowsCorruptNamingIt(int cut)
    {
        using var t = new TempFolder();
        MakeCheckpoint(t);
        string chunk = Path.Combine(t.Chunks, "00000003.chunk");
        long length = new FileInfo(chunk).Length;
        using (var fs = new FileStream(chunk, FileMode.Open))
        {
            fs.SetLength(cut switch { 0 => 0, -1 => 4, _ => length - cut });
        }

        AssertOpenAndSummaryRefuse(t, chunk);
    }

    [Fact]
    public void Open_ChunkHeaderCountDiffersFromJournal_ThrowsCorrupt()
    {
        using var t = new TempFolder();
        MakeCheckpoint(t);
        string chunk = Path.Combine(t.Chunks, "00000001.chunk");
        byte[] bytes = File.ReadAllBytes(chunk);
        bytes[8] ^= 0x01; // entry count 2 becomes 3
        File.WriteAllBytes(chunk, bytes);

        CheckpointException e = AssertOpenAndSummaryRefuse(t, chunk);
        Assert.Equal(8, e.Offset);
        Assert.Contains("3 entries", e.Message);
    }

    [Fact]
    public void Open_ChunkEntryLengthDamaged_ThrowsCorrupt()
    {
        using var t = new TempFolder();
        MakeCheckpoint(t);
        string chunk = Path.Combine(t.Chunks, "00000001.chunk");
        byte[] bytes = File.ReadAllBytes(chunk);
        bytes[12] ^= 0x01; // the first entry's key length
        File.WriteAllBytes(chunk, bytes);

        AssertOpenAndSummaryRefuse(t, chunk);
    }

    [Fact]
    public void Open_BytesAppendedToChunk_ThrowsCorrupt()
    {
        using var t = new TempFolder();
        MakeCheckpoint(t);
        string chunk = Path.Combine(t.Chunks, "00000001.chunk");
        long length = new FileInfo(chunk).Length;
        File.AppendAllText(chunk, "xyz");

        CheckpointException e = AssertOpenAndSummaryRefuse(t, chunk);
        Assert.Equal(length, e.Offset);
    }

    [Fact]
    public void Open_ChunksFolderDeleted_ThrowsCorruptAndDoesNotRecreateIt()
    {
        using var t = new TempFolder();
        MakeCheckpoint(t);
        Directory.Delete(t.Chunks, recursive: true);

        AssertOpenAndSummaryRefuse(t, Path.Combine(t.Chunks, "00000001.chunk"));
        var e = Assert.Throws<CheckpointException>(() => CheckpointStore.ReadResults(t.Checkpoint).ToList());
        Assert.Equal(CheckpointErrorIds.CheckpointCorrupt, e.ErrorId);
        Assert.Contains("00000001.chunk", e.Message);
    }

    [Fact]
    public void Open_PayloadByteFlipped_OpensButReadResultsFindsIt()
    {
        // Documented limit (docs/checkpoint-format.md): Open and ReadSummary check each chunk's
        // structure, not every payload's CRC; ReadResults checks every byte it returns.
        using var t = new TempFolder();
        MakeCheckpoint(t);
        string chunk = Path.Combine(t.Chunks, "00000002.chunk");
        byte[] bytes = File.ReadAllBytes(chunk);
        bytes[^6] ^= 1;
        File.WriteAllBytes(chunk, bytes);

        Assert.Equal(6, CheckpointStore.ReadSummary(t.Checkpoint).Done);
        var e = Assert.Throws<CheckpointException>(() => CheckpointStore.ReadResults(t.Checkpoint).ToList());
        Assert.Equal(CheckpointErrorIds.CheckpointCorrupt, e.ErrorId);
        Assert.Equal(Path.GetFullPath(chunk), e.FilePath);
    }

    [Fact]
    public void Open_HookChunkMissing_IsTheHooksBusinessAndOpens()
    {
        using var t = new TempFolder();
        var options = Ckpt.Options(2);
        options.SaveHook = (path, results, keys) => File.WriteAllText(path, string.Join(",", keys));
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, options))
        {
            Ckpt.RunKeys(s, new[] { "a", "b", "c", "d" });
            s.Complete();
        }

        File.Delete(Path.Combine(t.Chunks, "00000001.chunk"));
        File.WriteAllText(Path.Combine(t.Chunks, "00000002.chunk"), "not our format");

        Assert.Equal(4, CheckpointStore.ReadSummary(t.Checkpoint).Done);
        options.SaveHook = (_, _, _) => { }; // a hook that keeps its results elsewhere leaves no file
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, options))
        {
            Assert.Equal(4, s.DoneCount);
            Ckpt.RunKeys(s, new[] { "e", "f" });
            s.Complete();
        }

        Assert.Equal(6, CheckpointStore.ReadSummary(t.Checkpoint).Done);
    }

    [Fact]
    public void Open_UnjournaledChunkAndTemporaryLeftByCrash_AreNotDamage()
    {
        using var t = new TempFolder();
        MakeCheckpoint(t);
        File.WriteAllText(Path.Combine(t.Chunks, "00000004.chunk"), "half"); // renamed, never journaled
        File.WriteAllText(Path.Combine(t.Chunks, "00000005.chunk.tmp"), "cut"); // never renamed

        Assert.Equal(6, CheckpointStore.ReadSummary(t.Checkpoint).Done);
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(2)))
        {
            Assert.Equal(6, s.DoneCount);
            Ckpt.RunKeys(s, new[] { "k6", "k7" });
            s.Complete();
        }

        Assert.Equal(8, Ckpt.ReadAll(t.Checkpoint).Count);
        Assert.True(File.Exists(Path.Combine(t.Chunks, "00000006.chunk")));
    }

    [Fact]
    public void Open_NewRunWithNothingRecorded_ReopensAndReads()
    {
        using var t = new TempFolder();
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(2)))
        {
            Assert.True(s.IsNew);
        }

        CheckpointSummary summary = CheckpointStore.ReadSummary(t.Checkpoint);
        Assert.Equal(0, summary.Done);
        Assert.Equal(1, summary.Runs);
        Assert.Empty(CheckpointStore.ReadResults(t.Checkpoint));
        Assert.Empty(CheckpointStore.ReadFailures(t.Checkpoint));
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(2)))
        {
            Assert.False(s.IsNew);
            Ckpt.RunKeys(s, new[] { "a" });
            s.Complete();
        }

        Assert.Single(Ckpt.ReadAll(t.Checkpoint));
    }

    [Fact]
    public void Open_EmptyJournalAndNoChunks_IsAnInterruptedCreationAndOpens()
    {
        using var t = new TempFolder();
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(2)))
        {
        }

        File.WriteAllBytes(t.Journal, Array.Empty<byte>());
        Assert.Equal(0, CheckpointStore.ReadSummary(t.Checkpoint).Done);
        using CheckpointSession again = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(2));
        Assert.Equal(0, again.DoneCount);
    }

    [Fact]
    public void Open_JournalEmptiedBesideChunks_ThrowsCorruptAndChangesNothing()
    {
        using var t = new TempFolder();
        MakeCheckpoint(t);
        File.WriteAllBytes(t.Journal, Array.Empty<byte>());

        CheckpointException e = AssertOpenAndSummaryRefuse(t, t.Journal);
        Assert.Contains("holds no record", e.Message);
        Assert.Equal(0, new FileInfo(t.Journal).Length);
        AssertEveryReaderRefuses(t);
    }

    [Fact]
    public void Readers_JournalDeletedBesideChunks_ThrowCorruptWhenCalled()
    {
        using var t = new TempFolder();
        MakeCheckpoint(t);
        File.Delete(t.Journal);

        CheckpointException e = AssertOpenAndSummaryRefuse(t, t.Journal);
        Assert.Contains("no journal", e.Message);
        Assert.False(File.Exists(t.Journal));
        AssertEveryReaderRefuses(t);
    }

    [Fact]
    public void ReadResults_ChunksFolderDeleted_ThrowsCorruptNotDirectoryNotFound()
    {
        using var t = new TempFolder();
        MakeCheckpoint(t);
        Directory.Delete(t.Chunks, recursive: true);

        var e = Assert.Throws<CheckpointException>(() => CheckpointStore.ReadResults(t.Checkpoint, new[] { "k3" }).ToList());
        Assert.Equal(CheckpointErrorIds.CheckpointCorrupt, e.ErrorId);
        Assert.Equal(Path.GetFullPath(Path.Combine(t.Chunks, "00000002.chunk")), e.FilePath);
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

    /// <summary>Every reader refuses with CheckpointCorrupt, thrown by the call itself, not lazily from the first MoveNext.</summary>
    private static void AssertEveryReaderRefuses(TempFolder t)
    {
        foreach (Func<object> read in new Func<object>[]
        {
            () => CheckpointStore.ReadResults(t.Checkpoint),
            () => CheckpointStore.ReadResults(t.Checkpoint, new[] { "k1" }),
            () => CheckpointStore.ReadIndex(t.Checkpoint),
            () => CheckpointStore.ReadFailures(t.Checkpoint),
        })
        {
            Assert.Equal(CheckpointErrorIds.CheckpointCorrupt, Assert.Throws<CheckpointException>(read).ErrorId);
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
