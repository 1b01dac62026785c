using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using ParallelMap.Engine.Checkpoint;
using Xunit;

namespace ParallelMap.Engine.Tests.Checkpoint;

/// <summary>
/// Results recorded from a spill file (<see cref="ResultSpill"/>): a big key's payload written as
/// it is made and copied into its chunk, never held whole; and the spill files never outlive the
/// session (nor a crash, past the next open).
/// </summary>
public class CheckpointSpillTests
{
    private static string[] Spills(TempFolder t) =>
        Directory.GetFiles(t.Chunks).Select(Path.GetFileName).Where(n => n!.StartsWith("spill-", StringComparison.Ordinal)).ToArray()!;

    /// <summary>A payload of several blocks of the copy, with every byte value, so an offset slip shows.</summary>
    private static byte[] BigPayload(int length)
    {
        var b = new byte[length];
        for (int i = 0; i < length; i++) b[i] = (byte)(i * 7 + (i >> 16));
        return b;
    }

    private static ResultSpill SpillOf(CheckpointSession s, byte[] payload, int piece = 10_000)
    {
        ResultSpill spill = s.CreateSpill();
        for (int at = 0; at < payload.Length; at += piece) spill.Write(payload, at, Math.Min(piece, payload.Length - at));
        return spill;
    }

    private static Dictionary<string, byte[]> ReadPayloads(string path) =>
        CheckpointStore.ReadResults(path).ToDictionary(r => r.Key, r => r.Payload);

    [Fact]
    public void RecordResult_Spill_StoresItsBytesAmongOthersAndDeletesTheFileOnceSaved()
    {
        using var t = new TempFolder();
        byte[] big = BigPayload(300_001);
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(chunkSize: 3)))
        {
            Assert.True(s.ShouldRun("a", false) && s.ShouldRun("big", false) && s.ShouldRun("c", false));
            s.RecordResult("a", Ckpt.Bytes("value:a"));
            ResultSpill spill = SpillOf(s, big);
            Assert.Single(Spills(t));
            Assert.Equal(big.Length, spill.Length);
            s.RecordResult("big", spill);
            s.RecordResult("c", Ckpt.Bytes("value:c"));
            s.Flush();
            Assert.True(s.IsDone("big"));
            Assert.Empty(Spills(t));
        }

        Dictionary<string, byte[]> saved = ReadPayloads(t.Checkpoint);
        Assert.Equal(new[] { "a", "big", "c" }, saved.Keys.OrderBy(k => k, StringComparer.Ordinal));
        Assert.Equal(big, saved["big"]);
        Assert.Equal("value:a", Ckpt.Text(saved["a"]));
        Assert.Equal("value:c", Ckpt.Text(saved["c"]));
    }

    [Fact]
    public void RecordResult_BigSpill_SavesAtOnceByItsLength()
    {
        using var t = new TempFolder();
        var options = Ckpt.Options(chunkSize: 100);
        options.ChunkMaxBytes = 1000;
        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, options);
        Assert.True(s.ShouldRun("big", false));
        s.RecordResult("big", SpillOf(s, BigPayload(5000)));
        Assert.True(s.IsDone("big"));
        Assert.Equal(0, s.BufferedCount);
    }

    [Fact]
    public void Spill_DisposedUnrecorded_DeletesItsFile()
    {
        using var t = new TempFolder();
        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options());
        ResultSpill spill = SpillOf(s, BigPayload(1000));
        Assert.Single(Spills(t));
        spill.Dispose();
        Assert.Empty(Spills(t));
        Assert.Throws<ObjectDisposedException>(() => spill.Write(new byte[1], 0, 1));
    }

    [Fact]
    public void Dispose_DeletesSpillsNeverSaved_AndTheirKeysRunAgain()
    {
        using var t = new TempFolder();
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(chunkSize: 100)))
        {
            Assert.True(s.ShouldRun("buffered", false));
            s.RecordResult("buffered", SpillOf(s, BigPayload(2000)));
            _ = SpillOf(s, BigPayload(2000)); // an item's spill that was never recorded (a stop)
            Assert.Equal(2, Spills(t).Length);
        }

        Assert.Empty(Spills(t));
        using CheckpointSession again = CheckpointStore.Open(t.Checkpoint, Ckpt.Options());
        Assert.True(again.ShouldRun("buffered", false), "a result dropped unsaved is not done");
    }

    [Fact]
    public void Open_DeletesSpillsACrashLeft_AndNumbersChunksAsBefore()
    {
        using var t = new TempFolder();
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(chunkSize: 1)))
        {
            Ckpt.RunKeys(s, new[] { "a" });
        }

        // What a kill -9 leaves: a spill being written (its name starts with digits of no chunk).
        string litter = Path.Combine(t.Chunks, "spill-99999999aaaabbbbccccddddeeeeffff.tmp");
        File.WriteAllBytes(litter, BigPayload(100));
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(chunkSize: 1)))
        {
            Assert.False(File.Exists(litter));
            Ckpt.RunKeys(s, new[] { "b" });
        }

        Assert.Equal(new[] { "00000001.chunk", "00000002.chunk" }, Directory.GetFiles(t.Chunks).Select(Path.GetFileName).OrderBy(n => n));
    }

    [Fact]
    public void RecordResult_SpillForADoneKey_IsRefusedAndItsFileDeleted()
    {
        using var t = new TempFolder();
        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(chunkSize: 1));
        Ckpt.RunKeys(s, new[] { "a" });
        ResultSpill spill = SpillOf(s, BigPayload(100));
        var e = Assert.Throws<CheckpointException>(() => s.RecordResult("a", spill));
        Assert.Equal(CheckpointErrorIds.DuplicateKey, e.ErrorId);
        Assert.Empty(Spills(t));
    }

    [Fact]
    public void RecordResult_Spill_ReachesASaveHookAsBytes()
    {
        using var t = new TempFolder();
        var seen = new List<byte[]>();
        var options = Ckpt.Options(chunkSize: 1);
        options.SaveHook = (path, results, keys) => seen.AddRange(results);
        byte[] big = BigPayload(70_000);
        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, options);
        Assert.True(s.ShouldRun("big", false));
        s.RecordResult("big", SpillOf(s, big));
        Assert.Equal(big, Assert.Single(seen));
        Assert.Empty(Spills(t));
    }

    [Fact]
    public void RecordResult_BackgroundSave_CopiesTheSpill()
    {
        using var t = new TempFolder();
        var options = Ckpt.Options(chunkSize: 2);
        options.BackgroundSave = true;
        byte[] big = BigPayload(200_000);
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, options))
        {
            for (int i = 0; i < 6; i++)
            {
                Assert.True(s.ShouldRun("k" + i, false));
                s.RecordResult("k" + i, SpillOf(s, big));
            }

            s.Complete();
            Assert.Empty(Spills(t));
        }

        Dictionary<string, byte[]> saved = ReadPayloads(t.Checkpoint);
        Assert.Equal(6, saved.Count);
        Assert.All(saved.Values, p => Assert.Equal(big, p));
    }

    [Fact]
    public void Write_PastTheFormatsLimit_ThrowsResultTooLarge()
    {
        using var t = new TempFolder();
        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options());
        using ResultSpill spill = s.CreateSpill();
        spill.Write(new byte[10], 0, 10);

        // The limit is checked before writing: the count alone passes it.
        var e = Assert.Throws<InvalidOperationException>(() => spill.Write(new byte[1], 0, int.MaxValue));
        Assert.Contains("split the item", e.Message, StringComparison.Ordinal);
        Assert.Equal(10, spill.Length);
    }
}
