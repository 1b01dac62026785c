using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using ParallelMap.Engine.Checkpoint;
using Xunit;

namespace ParallelMap.Engine.Tests.Checkpoint;

public class CheckpointStoreTests
{
    [Fact]
    public void Open_NewFolder_CreatesManifestJournalChunksAndLock()
    {
        using var t = new TempFolder();
        var options = Ckpt.Options();
        options.Metadata = new Dictionary<string, string> { ["script"] = "{ $_ * 2 }", ["user"] = "me" };
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, options))
        {
            Assert.True(s.IsNew);
            Assert.Equal(Path.GetFullPath(t.Checkpoint), s.Path);
            Assert.True(File.Exists(t.Manifest));
            Assert.True(File.Exists(t.Journal));
            Assert.True(Directory.Exists(t.Chunks));
            Assert.True(File.Exists(Path.Combine(t.Checkpoint, "lock.holder")));
            Assert.Equal(Environment.ProcessId, s.Holder.ProcessId);
        }

        CheckpointManifest m = CheckpointStore.ReadManifest(t.Checkpoint);
        Assert.Equal(1, m.Version);
        Assert.Equal("fp", m.Fingerprint);
        Assert.Equal("{ $_ * 2 }", m.Metadata["script"]);
        Assert.False(File.Exists(Path.Combine(t.Checkpoint, "lock.holder")));
    }

    [Fact]
    public void RecordResult_ChunkSizeReached_SavesChunkAndMarksKeysDone()
    {
        using var t = new TempFolder();
        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(chunkSize: 3));
        Ckpt.RunKeys(s, new[] { "a", "b" });
        Assert.False(s.IsDone("a"));
        Assert.Equal(2, s.BufferedCount);
        Assert.Empty(Directory.GetFiles(t.Chunks));

        Ckpt.RunKeys(s, new[] { "c" });

        Assert.True(s.IsDone("a") && s.IsDone("b") && s.IsDone("c"));
        Assert.Equal(0, s.BufferedCount);
        Assert.Equal(new[] { "00000001.chunk" }, Directory.GetFiles(t.Chunks).Select(Path.GetFileName));
        Assert.Equal(3, CheckpointStore.ReadSummary(t.Checkpoint).Done);
    }

    [Fact]
    public void Flush_PartialChunk_SavesItAndTheKeysAreDone()
    {
        using var t = new TempFolder();
        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(chunkSize: 100));
        Ckpt.RunKeys(s, new[] { "a", "b" });
        Assert.Equal(0, CheckpointStore.ReadSummary(t.Checkpoint).Done);

        s.Flush();

        Assert.Equal(2, CheckpointStore.ReadSummary(t.Checkpoint).Done);
        Assert.Equal(new Dictionary<string, string> { ["a"] = "value:a", ["b"] = "value:b" }, Ckpt.ReadAll(t.Checkpoint));
    }

    [Fact]
    public void FlushIfDue_TimeBoundPassed_SavesTheSlowTrickle()
    {
        using var t = new TempFolder();
        long now = 0;
        var options = Ckpt.Options(chunkSize: 100);
        options.ChunkMaxAge = TimeSpan.FromSeconds(5);
        options.Clock = () => now;
        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, options);
        Ckpt.RunKeys(s, new[] { "a" });

        now += TimeSpan.FromSeconds(4).Ticks;
        Assert.False(s.FlushIfDue());
        Assert.False(s.IsDone("a"));

        now += TimeSpan.FromSeconds(1).Ticks;
        Assert.True(s.FlushIfDue());
        Assert.True(s.IsDone("a"));
        Assert.False(s.FlushIfDue());
    }

    [Fact]
    public void ShouldRun_TimeBoundPassedSinceFirstResult_SavesOnThatCall()
    {
        using var t = new TempFolder();
        long now = 0;
        var options = Ckpt.Options(chunkSize: 100);
        options.ChunkMaxAge = TimeSpan.FromSeconds(5);
        options.Clock = () => now;
        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, options);
        Ckpt.RunKeys(s, new[] { "a" });
        now += TimeSpan.FromSeconds(6).Ticks;

        Assert.True(s.ShouldRun("b", false));

        Assert.True(s.IsDone("a"));
        s.RecordResult("b", Ckpt.Bytes("value:b"));
        Assert.False(s.IsDone("b")); // the bound counts from b's own recording
        now += TimeSpan.FromSeconds(5).Ticks;
        s.RecordFailure("c", "late", 1);
        Assert.True(s.IsDone("b"));
    }

    [Fact]
    public void RecordResult_ChunkMaxBytesReached_SavesChunk()
    {
        using var t = new TempFolder();
        var options = Ckpt.Options(chunkSize: 100);
        options.ChunkMaxBytes = 1000;
        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, options);
        Assert.True(s.ShouldRun("big", false));
        s.RecordResult("big", new byte[600]);
        Assert.False(s.IsDone("big"));
        Assert.True(s.ShouldRun("bigger", false));
        s.RecordResult("bigger", new byte[600]);
        Assert.True(s.IsDone("big") && s.IsDone("bigger"));
    }

    [Fact]
    public void ShouldRun_SameKeyTwiceInOneRun_ThrowsDuplicateKeyNamingIt()
    {
        using var t = new TempFolder();
        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options());
        Assert.True(s.ShouldRun("item-7", false));

        var e = Assert.Throws<CheckpointException>(() => s.ShouldRun("item-7", false));

        Assert.Equal(CheckpointErrorIds.DuplicateKey, e.ErrorId);
        Assert.Equal("item-7", e.Key);
        Assert.Contains("'item-7'", e.Message);
    }

    [Fact]
    public void ShouldRun_DoneKeyRepeatedInInput_ThrowsDuplicateKey()
    {
        using var t = new TempFolder();
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options()))
        {
            Ckpt.RunKeys(s, new[] { "a" });
            s.Complete();
        }

        using CheckpointSession s2 = CheckpointStore.Open(t.Checkpoint, Ckpt.Options());
        Assert.False(s2.ShouldRun("a", false));
        Assert.Equal(CheckpointErrorIds.DuplicateKey, Assert.Throws<CheckpointException>(() => s2.ShouldRun("a", false)).ErrorId);
    }

    [Fact]
    public void RecordResult_TwiceForOneKey_ThrowsDuplicateKey()
    {
        using var t = new TempFolder();
        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options());
        s.RecordResult("a", Ckpt.Bytes("1"));

        var e = Assert.Throws<CheckpointException>(() => s.RecordResult("a", Ckpt.Bytes("2")));

        Assert.Equal(CheckpointErrorIds.DuplicateKey, e.ErrorId);
        Assert.Equal(1, s.BufferedCount);
    }

    [Fact]
    public void RecordResult_KeyDoneInEarlierRun_ThrowsDuplicateKey()
    {
        using var t = new TempFolder();
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options()))
        {
            Ckpt.RunKeys(s, new[] { "a" });
            s.Complete();
        }

        using CheckpointSession s2 = CheckpointStore.Open(t.Checkpoint, Ckpt.Options());
        var e = Assert.Throws<CheckpointException>(() => s2.RecordResult("a", Ckpt.Bytes("again")));
        Assert.Equal(CheckpointErrorIds.DuplicateKey, e.ErrorId);
        Assert.Contains("already recorded done", e.Message);
    }

    [Fact]
    public void Open_Resume_SkipsDoneKeysAndRunsTheRest()
    {
        using var t = new TempFolder();
        string[] all = Enumerable.Range(0, 10).Select(i => "k" + i).ToArray();
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(chunkSize: 4)))
        {
            Ckpt.RunKeys(s, all.Take(6)); // one chunk of 4 saved; 2 buffered and dropped by Dispose
        }

        var ran = new List<string>();
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(chunkSize: 4)))
        {
            Assert.False(s.IsNew);
            Assert.Equal(4, s.DoneCount);
            foreach (string key in all.Reverse())
            {
                if (s.ShouldRun(key, false))
                {
                    ran.Add(key);
                    s.RecordResult(key, Ckpt.Bytes("value:" + key));
                }
            }

            s.Complete();
        }

        Assert.Equal(new[] { "k4", "k5", "k6", "k7", "k8", "k9" }, ran.OrderBy(k => k, StringComparer.Ordinal));
        Assert.Equal(all.ToDictionary(k => k, k => "value:" + k), Ckpt.ReadAll(t.Checkpoint));
        Assert.All(JournalText.DoneCounts(t.Journal).Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public void ShouldRun_FailedKey_RerunsOnlyWhenRetryFailedIsAsked()
    {
        using var t = new TempFolder();
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options()))
        {
            Assert.True(s.ShouldRun("bad", false));
            s.RecordFailure("bad", "boom", 3);
            Assert.True(s.IsFailed("bad"));
            s.Complete();
        }

        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options()))
        {
            Assert.Equal(1, s.FailedCount);
            Assert.False(s.ShouldRun("bad", retryFailed: false));
        }

        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options()))
        {
            Assert.True(s.ShouldRun("bad", retryFailed: true));
            s.RecordResult("bad", Ckpt.Bytes("fixed"));
            s.Complete();
            Assert.Equal(0, s.FailedCount);
        }

        Assert.Empty(CheckpointStore.ReadFailures(t.Checkpoint));
        Assert.Equal("fixed", Ckpt.ReadAll(t.Checkpoint)["bad"]);
    }

    [Fact]
    public void ReadFailures_AfterRuns_KeepsErrorTextAndAttemptsOfTheLastFailure()
    {
        using var t = new TempFolder();
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options()))
        {
            s.ShouldRun("x", false);
            s.RecordFailure("x", "first\nerror\twith tab and \\ backslash", 2);
            s.ShouldRun("y", false);
            s.RecordFailure("y", "y failed", 1);
            s.Complete();
        }

        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options()))
        {
            s.ShouldRun("y", retryFailed: true);
            s.RecordFailure("y", "y failed again", 4);
            s.Complete();
        }

        var failures = CheckpointStore.ReadFailures(t.Checkpoint);
        Assert.Equal(new[] { "x", "y" }, failures.Select(f => f.Key));
        Assert.Equal("first\nerror\twith tab and \\ backslash", failures[0].ErrorText);
        Assert.Equal(2, failures[0].Attempts);
        Assert.Equal("y failed again", failures[1].ErrorText);
        Assert.Equal(4, failures[1].Attempts);
    }

    [Fact]
    public void ReadSummary_MidRun_CountsSeenDoneFailedPendingAndNamesHolder()
    {
        using var t = new TempFolder();
        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(chunkSize: 2));
        Ckpt.RunKeys(s, new[] { "a", "b" });     // done
        s.ShouldRun("c", false);
        s.RecordFailure("c", "no", 1);           // failed
        s.ShouldRun("d", false);                 // pending: submitted, no outcome
        s.Flush();

        CheckpointSummary summary = CheckpointStore.ReadSummary(t.Checkpoint);

        Assert.Equal(4, summary.Seen);
        Assert.Equal(2, summary.Done);
        Assert.Equal(1, summary.Failed);
        Assert.Equal(1, summary.Pending);
        Assert.Equal(1, summary.Chunks);
        Assert.Equal(1, summary.Runs);
        Assert.False(summary.LastRunCompleted);
        Assert.NotNull(summary.LockHolder);
        Assert.Equal(Environment.ProcessId, summary.LockHolder!.ProcessId);
        Assert.Equal(Environment.MachineName, summary.LockHolder.Host);
        Assert.False(summary.LockIsStale);
        Assert.True(summary.LastUpdateUtc > DateTime.UtcNow.AddMinutes(-5));
    }

    [Fact]
    public void ReadSummary_AfterComplete_ShowsCompletedAndNoHolder()
    {
        using var t = new TempFolder();
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options()))
        {
            Ckpt.RunKeys(s, new[] { "a" });
            s.Complete();
        }

        CheckpointSummary summary = CheckpointStore.ReadSummary(t.Checkpoint);
        Assert.True(summary.LastRunCompleted);
        Assert.Null(summary.LockHolder);
        Assert.Equal(1, summary.Done);
        Assert.Equal(0, summary.Pending);
    }

    [Fact]
    public void ReadResults_ManyChunks_StreamsInChunkOrderThenRecordingOrder()
    {
        using var t = new TempFolder();
        string[] keys = Enumerable.Range(0, 11).Select(i => "k" + i).ToArray();
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(chunkSize: 3)))
        {
            Ckpt.RunKeys(s, keys);
            s.Complete();
        }

        var read = CheckpointStore.ReadResults(t.Checkpoint).ToList();

        Assert.Equal(keys, read.Select(r => r.Key));
        Assert.All(read, r => Assert.Equal("value:" + r.Key, Ckpt.Text(r.Payload)));
        Assert.Equal(4, Directory.GetFiles(t.Chunks).Length);
    }

    [Fact]
    public void ReadResults_GivenKeys_ReturnsOnlyThoseThatAreDone()
    {
        using var t = new TempFolder();
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(chunkSize: 2)))
        {
            Ckpt.RunKeys(s, new[] { "a", "b", "c", "d", "e" });
            s.Complete();
        }

        var read = CheckpointStore.ReadResults(t.Checkpoint, new[] { "e", "b", "missing" }).ToList();

        Assert.Equal(new[] { "b", "e" }, read.Select(r => r.Key));
        Assert.Equal("value:e", Ckpt.Text(read[1].Payload));
    }

    [Fact]
    public void ReadResults_KeysWithTabsNewlinesBackslashesAndUnicode_RoundTrip()
    {
        using var t = new TempFolder();
        string[] keys = { "tab\there", "line\nbreak\r\n", "back\\slash\\t", "", "ünïcødé ✓ 𝄞", " spaced key " };
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(chunkSize: 4)))
        {
            Ckpt.RunKeys(s, keys);
            s.Complete();
        }

        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(chunkSize: 4)))
        {
            Assert.All(keys, k => Assert.True(s.IsDone(k)));
            Assert.False(s.IsDone("tab"));
        }

        Assert.Equal(keys.ToDictionary(k => k, k => "value:" + k), Ckpt.ReadAll(t.Checkpoint));
        Assert.Equal(keys.OrderBy(k => k, StringComparer.Ordinal), JournalText.DoneCounts(t.Journal).Keys.OrderBy(k => k, StringComparer.Ordinal));
    }

    [Fact]
    public void ShouldRun_KeyWithLoneSurrogate_ThrowsArgumentExceptionAndRecordsNothing()
    {
        using var t = new TempFolder();
        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options());
        Assert.Throws<ArgumentException>(() => s.ShouldRun("bad\uD800key", false));
        Assert.True(s.ShouldRun("good", false));
        s.Flush();
        Assert.Equal(1, CheckpointStore.ReadSummary(t.Checkpoint).Seen);
    }

    [Fact]
    public void SaveHook_FullChunk_RunsOnCallerThreadAndKeysAreDoneOnlyAfterItReturns()
    {
        using var t = new TempFolder();
        int callerThread = Environment.CurrentManagedThreadId;
        var calls = new List<(string Path, string[] Keys, string[] Results, int Thread, bool DoneDuringHook)>();
        CheckpointSession? session = null;
        var options = Ckpt.Options(chunkSize: 2);
        options.SaveHook = (path, results, keys) =>
        {
            calls.Add((path, keys.ToArray(), results.Select(Ckpt.Text).ToArray(), Environment.CurrentManagedThreadId, CheckpointStore.ReadSummary(t.Checkpoint).Done > 0));
            File.WriteAllText(path, string.Join(",", keys));
        };

        using (session = CheckpointStore.Open(t.Checkpoint, options))
        {
            Ckpt.RunKeys(session, new[] { "a", "b", "c" });
            session.Complete();
        }

        Assert.Equal(2, calls.Count);
        Assert.Equal(Path.Combine(Path.GetFullPath(t.Chunks), "00000001.chunk"), calls[0].Path);
        Assert.Equal(new[] { "a", "b" }, calls[0].Keys);
        Assert.Equal(new[] { "value:a", "value:b" }, calls[0].Results);
        Assert.All(calls, c => Assert.Equal(callerThread, c.Thread));
        Assert.False(calls[0].DoneDuringHook);
        Assert.Equal(3, CheckpointStore.ReadSummary(t.Checkpoint).Done);

        var index = CheckpointStore.ReadIndex(t.Checkpoint).ToList();
        Assert.Equal(new[] { "a", "b", "c" }, index.Select(e => e.Key));
        Assert.All(index, e => Assert.True(e.SavedByHook));
        Assert.Equal(1, index[1].Index);
        Assert.Equal("c", File.ReadAllText(index[2].ChunkPath));

        var e = Assert.Throws<CheckpointException>(() => CheckpointStore.ReadResults(t.Checkpoint).ToList());
        Assert.Equal(CheckpointErrorIds.CheckpointCustomChunk, e.ErrorId);
    }

    [Fact]
    public void SaveHook_Throws_NothingInChunkIsDoneSessionStopsAndResumeRerunsThem()
    {
        using var t = new TempFolder();
        var options = Ckpt.Options(chunkSize: 2);
        int calls = 0;
        options.SaveHook = (path, results, keys) =>
        {
            if (++calls == 2)
            {
                File.WriteAllText(path, "half written");
                throw new IOException("disk on fire");
            }

            File.WriteAllText(path, string.Join(",", keys));
        };

        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, options))
        {
            Ckpt.RunKeys(s, new[] { "a", "b", "c" });
            s.ShouldRun("d", false);
            var e = Assert.Throws<CheckpointException>(() => s.RecordResult("d", Ckpt.Bytes("value:d")));
            Assert.Equal(CheckpointErrorIds.CheckpointSaveFailed, e.ErrorId);
            Assert.IsType<IOException>(e.InnerException);
            Assert.Contains("00000002.chunk", e.Message);
            Assert.False(s.IsDone("c"));
            Assert.Equal(CheckpointErrorIds.CheckpointSaveFailed, Assert.Throws<CheckpointException>(() => s.ShouldRun("e", false)).ErrorId);
        }

        Assert.Equal(2, CheckpointStore.ReadSummary(t.Checkpoint).Done);
        options.SaveHook = (path, results, keys) => File.WriteAllText(path, string.Join(",", keys));
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, options))
        {
            var ran = new List<string>();
            foreach (string key in new[] { "a", "b", "c", "d" })
            {
                if (s.ShouldRun(key, false))
                {
                    ran.Add(key);
                    s.RecordResult(key, Ckpt.Bytes(key));
                }
            }

            s.Complete();
            Assert.Equal(new[] { "c", "d" }, ran);
        }

        Assert.Equal("half written", File.ReadAllText(Path.Combine(t.Chunks, "00000002.chunk")));
        Assert.Equal("c,d", File.ReadAllText(Path.Combine(t.Chunks, "00000003.chunk")));
    }

    [Fact]
    public void Open_ChunkRenamedButNeverJournaled_ResumeNeverReadsNorOverwritesIt()
    {
        using var t = new TempFolder();
        var options = Ckpt.Options(chunkSize: 2);
        options.FaultHook = step =>
        {
            if (step == "chunk-renamed")
            {
                throw new IOException("crash between rename and journal");
            }
        };
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, options))
        {
            s.RecordResult("a", Ckpt.Bytes("stale a"));
            Assert.Throws<CheckpointException>(() => s.RecordResult("b", Ckpt.Bytes("stale b")));
        }

        string stale = Path.Combine(t.Chunks, "00000001.chunk");
        string staleHash = Ckpt.Sha(stale);
        Assert.Equal(0, CheckpointStore.ReadSummary(t.Checkpoint).Done);
        Assert.Empty(CheckpointStore.ReadResults(t.Checkpoint));

        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(chunkSize: 2)))
        {
            Ckpt.RunKeys(s, new[] { "a", "b" });
            s.Complete();
        }

        Assert.Equal(staleHash, Ckpt.Sha(stale));
        Assert.True(File.Exists(Path.Combine(t.Chunks, "00000002.chunk")));
        Assert.Equal(new Dictionary<string, string> { ["a"] = "value:a", ["b"] = "value:b" }, Ckpt.ReadAll(t.Checkpoint));
    }

    [Theory]
    [InlineData("chunk-written")]
    [InlineData("journal-written")]
    public void Open_CrashAtCommitStep_ResumeCompletesEveryKeyOnce(string step)
    {
        using var t = new TempFolder();
        var options = Ckpt.Options(chunkSize: 2);
        options.FaultHook = s => { if (s == step) throw new IOException("crash at " + s); };
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, options))
        {
            s.RecordResult("a", Ckpt.Bytes("value:a"));
            Assert.Throws<CheckpointException>(() => s.RecordResult("b", Ckpt.Bytes("value:b")));
        }

        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(chunkSize: 2)))
        {
            Ckpt.RunKeys(s, new[] { "a", "b", "c" });
            s.Complete();
        }

        Assert.Equal(new Dictionary<string, string> { ["a"] = "value:a", ["b"] = "value:b", ["c"] = "value:c" }, Ckpt.ReadAll(t.Checkpoint));
        Assert.All(JournalText.DoneCounts(t.Journal).Values, n => Assert.Equal(1, n));
        Assert.Empty(Directory.GetFiles(t.Chunks, "*.tmp"));
    }

    [Fact]
    public void Open_CreateNewOnExisting_ThrowsCheckpointExists()
    {
        using var t = new TempFolder();
        CheckpointStore.Open(t.Checkpoint, Ckpt.Options()).Dispose();
        var options = Ckpt.Options();
        options.Mode = CheckpointOpenMode.CreateNew;
        Assert.Equal(CheckpointErrorIds.CheckpointExists, Assert.Throws<CheckpointException>(() => CheckpointStore.Open(t.Checkpoint, options)).ErrorId);
    }

    [Fact]
    public void Open_OpenExistingOnMissing_ThrowsCheckpointNotFoundAndCreatesNothing()
    {
        using var t = new TempFolder();
        var options = Ckpt.Options();
        options.Mode = CheckpointOpenMode.OpenExisting;
        Assert.Equal(CheckpointErrorIds.CheckpointNotFound, Assert.Throws<CheckpointException>(() => CheckpointStore.Open(t.Checkpoint, options)).ErrorId);
        Assert.False(Directory.Exists(t.Checkpoint));
        Assert.Equal(CheckpointErrorIds.CheckpointNotFound, Assert.Throws<CheckpointException>(() => CheckpointStore.ReadSummary(t.Checkpoint)).ErrorId);
    }

    [Fact]
    public void Open_FolderWithOtherFiles_ThrowsFolderNotEmptyAndTouchesNothing()
    {
        using var t = new TempFolder();
        Directory.CreateDirectory(t.Checkpoint);
        File.WriteAllText(Path.Combine(t.Checkpoint, "thesis.docx"), "precious");

        var e = Assert.Throws<CheckpointException>(() => CheckpointStore.Open(t.Checkpoint, Ckpt.Options()));

        Assert.Equal(CheckpointErrorIds.CheckpointFolderNotEmpty, e.ErrorId);
        Assert.Equal(new[] { "thesis.docx" }, Directory.GetFileSystemEntries(t.Checkpoint).Select(Path.GetFileName));
    }

    [Fact]
    public void Complete_ThenRecord_ThrowsInvalidOperation()
    {
        using var t = new TempFolder();
        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options());
        s.Complete();
        Assert.Throws<InvalidOperationException>(() => s.ShouldRun("a", false));
    }

    [Fact]
    public void Dispose_Twice_ReleasesOnceAndLaterCallsThrowObjectDisposed()
    {
        using var t = new TempFolder();
        CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options());
        s.Dispose();
        s.Dispose();
        Assert.Throws<ObjectDisposedException>(() => s.ShouldRun("a", false));
        Assert.Throws<ObjectDisposedException>(() => s.IsDone("a"));
        using CheckpointSession again = CheckpointStore.Open(t.Checkpoint, Ckpt.Options());
        Assert.Null(again.TookOverStaleLockFrom);
    }

    [Fact]
    public void Dispose_FromAnotherThreadDuringSaveHook_WaitsForTheSaveToFinish()
    {
        using var t = new TempFolder();
        using var inHook = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var options = Ckpt.Options(chunkSize: 1);
        options.SaveHook = (path, results, keys) =>
        {
            inHook.Set();
            release.Wait();
            File.WriteAllText(path, "x");
        };
        CheckpointSession s = CheckpointStore.Open(t.Checkpoint, options);
        var caller = new Thread(() => s.RecordResult("a", Ckpt.Bytes("1")));
        caller.Start();
        inHook.Wait();

        var disposer = new Thread(s.Dispose);
        disposer.Start();
        Assert.False(disposer.Join(200)); // blocked behind the save: the lock is still held
        Assert.NotNull(CheckpointStore.ReadSummary(t.Checkpoint).LockHolder);

        release.Set();
        caller.Join();
        disposer.Join();
        Assert.Equal(1, CheckpointStore.ReadSummary(t.Checkpoint).Done);
        Assert.Null(CheckpointStore.ReadSummary(t.Checkpoint).LockHolder);
    }

    [Fact]
    public void ComputeFingerprint_PartsDifferInBoundaries_Differ()
    {
        Assert.NotEqual(CheckpointStore.ComputeFingerprint("ab", "c"), CheckpointStore.ComputeFingerprint("a", "bc"));
        Assert.Equal(CheckpointStore.ComputeFingerprint("x"), CheckpointStore.ComputeFingerprint("x"));
        Assert.StartsWith("sha256:", CheckpointStore.ComputeFingerprint());
    }
}
