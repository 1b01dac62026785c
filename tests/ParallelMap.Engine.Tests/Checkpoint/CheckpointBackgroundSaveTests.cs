using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using ParallelMap.Engine.Checkpoint;
using Xunit;

namespace ParallelMap.Engine.Tests.Checkpoint;

/// <summary>
/// CheckpointOptions.BackgroundSave: full chunks are saved by the session's own thread. The
/// on-disk protocol is the same, so these check the hand-over: keys done only after the save,
/// nothing lost or done twice, failures reaching the caller, Dispose waiting for a save under way.
/// </summary>
public class CheckpointBackgroundSaveTests
{
    private static CheckpointOptions Background(int chunkSize) => new()
    {
        Fingerprint = "fp",
        ChunkSize = chunkSize,
        ChunkMaxAge = TimeSpan.FromHours(1),
        BackgroundSave = true,
    };

    [Fact]
    public void RecordResult_ManyChunks_EveryKeyDoneOnceInOrderAfterComplete()
    {
        using var t = new TempFolder();
        string[] keys = Enumerable.Range(0, 5003).Select(i => "k" + i).ToArray();
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Background(chunkSize: 10)))
        {
            Ckpt.RunKeys(s, keys);
            s.Complete();
            Assert.Equal(keys.Length, s.DoneCount);
        }

        Assert.All(JournalText.DoneCounts(t.Journal).Values, n => Assert.Equal(1, n));
        var all = Ckpt.ReadAll(t.Checkpoint);
        Assert.Equal(keys.Length, all.Count);
        Assert.All(keys, k => Assert.Equal("value:" + k, all[k]));
        Assert.Equal(501, Directory.GetFiles(t.Chunks).Length);
        Assert.True(CheckpointStore.ReadSummary(t.Checkpoint).LastRunCompleted);
    }

    [Fact]
    public void RecordResult_FullChunk_ReturnsBeforeTheSaveAndKeysAreDoneOnlyOnceItIsDurable()
    {
        using var t = new TempFolder();
        var options = Background(chunkSize: 2);
        using var saving = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        options.FaultHook = step =>
        {
            if (step == "chunk-written")
            {
                saving.Set();
                release.Wait(TimeSpan.FromSeconds(30));
            }
        };

        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, options);
        Ckpt.RunKeys(s, new[] { "a", "b" }); // hands the chunk over and returns while it is held

        Assert.True(saving.Wait(TimeSpan.FromSeconds(30)));
        Assert.False(s.IsDone("a"));
        Assert.Equal(0, s.BufferedCount);
        Assert.Equal(0, CheckpointStore.ReadSummary(t.Checkpoint).Done);

        // The caller goes on recording while the chunk is being saved.
        Assert.True(s.ShouldRun("c", false));
        s.RecordResult("c", Ckpt.Bytes("value:c"));
        Assert.Equal(1, s.BufferedCount);

        release.Set();
        s.Flush();
        Assert.True(s.IsDone("a") && s.IsDone("b") && s.IsDone("c"));
        Assert.Equal(3, CheckpointStore.ReadSummary(t.Checkpoint).Done);
    }

    [Fact]
    public void RecordResult_SecondChunkFullWhileFirstIsSaving_WaitsSoAtMostTwoChunksAreHeld()
    {
        using var t = new TempFolder();
        var options = Background(chunkSize: 1);
        using var saving = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        options.FaultHook = step =>
        {
            if (step == "chunk-written" && !release.IsSet)
            {
                saving.Set();
                release.Wait(TimeSpan.FromSeconds(30));
            }
        };

        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, options);
        Ckpt.RunKeys(s, new[] { "a" });
        Assert.True(saving.Wait(TimeSpan.FromSeconds(30)));
        s.ShouldRun("b", false);

        var second = new Thread(() => s.RecordResult("b", Ckpt.Bytes("value:b")));
        second.Start();
        Assert.False(second.Join(300)); // held: chunk "a" is still being saved
        release.Set();
        Assert.True(second.Join(TimeSpan.FromSeconds(30)));

        s.Complete();
        Assert.Equal(new Dictionary<string, string> { ["a"] = "value:a", ["b"] = "value:b" }, Ckpt.ReadAll(t.Checkpoint));
    }

    [Fact]
    public void BackgroundSaveFails_NextCallThrowsSaveFailed_KeysStayPendingAndResumeRerunsThem()
    {
        using var t = new TempFolder();
        var options = Background(chunkSize: 2);
        int saves = 0;
        options.FaultHook = step =>
        {
            if (step == "chunk-renamed" && Interlocked.Increment(ref saves) == 2)
            {
                throw new IOException("disk on fire");
            }
        };

        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, options))
        {
            Ckpt.RunKeys(s, new[] { "a", "b", "c", "d" }); // the second chunk's save fails on the saver
            var e = Assert.Throws<CheckpointException>(() => s.Flush());
            Assert.Equal(CheckpointErrorIds.CheckpointSaveFailed, e.ErrorId);
            Assert.Contains("disk on fire", e.ToString());
            Assert.False(s.IsDone("c"));
            Assert.Equal(CheckpointErrorIds.CheckpointSaveFailed, Assert.Throws<CheckpointException>(() => s.ShouldRun("e", false)).ErrorId);
        }

        Assert.Equal(2, CheckpointStore.ReadSummary(t.Checkpoint).Done);
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Background(chunkSize: 2)))
        {
            var ran = new List<string>();
            foreach (string key in new[] { "a", "b", "c", "d" })
            {
                if (s.ShouldRun(key, false))
                {
                    ran.Add(key);
                    s.RecordResult(key, Ckpt.Bytes("value:" + key));
                }
            }

            s.Complete();
            Assert.Equal(new[] { "c", "d" }, ran);
        }

        Assert.All(JournalText.DoneCounts(t.Journal).Values, n => Assert.Equal(1, n));
        Assert.Equal(4, Ckpt.ReadAll(t.Checkpoint).Count);
    }

    [Fact]
    public void Dispose_WhileAChunkIsSaving_WaitsForItThenReleasesTheLock()
    {
        using var t = new TempFolder();
        var options = Background(chunkSize: 2);
        using var saving = new ManualResetEventSlim();
        options.FaultHook = step =>
        {
            if (step == "chunk-written")
            {
                saving.Set();
                Thread.Sleep(300);
            }
        };

        CheckpointSession s = CheckpointStore.Open(t.Checkpoint, options);
        Ckpt.RunKeys(s, new[] { "a", "b" });
        Assert.True(saving.Wait(TimeSpan.FromSeconds(30)));
        s.Dispose();

        // The save under way finished (its keys are done), and the lock is free again.
        Assert.Equal(2, CheckpointStore.ReadSummary(t.Checkpoint).Done);
        using CheckpointSession again = CheckpointStore.Open(t.Checkpoint, Background(chunkSize: 2));
        Assert.True(again.IsDone("a"));
    }

    [Fact]
    public void WithSaveHook_BackgroundIsIgnored_HookRunsOnTheCallersThread()
    {
        using var t = new TempFolder();
        var options = Background(chunkSize: 2);
        int caller = Environment.CurrentManagedThreadId;
        var hookThreads = new List<int>();
        options.SaveHook = (path, results, keys) =>
        {
            hookThreads.Add(Environment.CurrentManagedThreadId);
            File.WriteAllText(path, string.Join(",", keys));
        };

        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, options);
        Ckpt.RunKeys(s, new[] { "a", "b" });
        Assert.True(s.IsDone("a")); // saved within the call, as without BackgroundSave
        s.Complete();
        Assert.Equal(new[] { caller }, hookThreads);
    }
}
