using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using ParallelMap.CrashHarness;
using ParallelMap.Engine.Checkpoint;
using Xunit;

namespace ParallelMap.Engine.Tests.Checkpoint;

public class CheckpointLockTests
{
    private static void WriteHolder(TempFolder t, string host, int pid, DateTime processStart)
    {
        Directory.CreateDirectory(t.Checkpoint);
        File.WriteAllText(
            Path.Combine(t.Checkpoint, "lock.holder"),
            $"{{\"host\": \"{host}\", \"pid\": {pid}, \"processStart\": \"{processStart.ToUniversalTime().ToString("o", CultureInfo.InvariantCulture)}\", \"acquired\": \"2020-01-01T00:00:00.0000000Z\", \"user\": \"someone\", \"runId\": \"r\"}}\n");
    }

    [Fact]
    public void Open_SecondWriterInSameProcess_ThrowsLockedNamingHolder()
    {
        using var t = new TempFolder();
        using CheckpointSession first = CheckpointStore.Open(t.Checkpoint, Ckpt.Options());

        var e = Assert.Throws<CheckpointException>(() => CheckpointStore.Open(t.Checkpoint, Ckpt.Options()));

        Assert.Equal(CheckpointErrorIds.CheckpointLocked, e.ErrorId);
        Assert.Equal(Environment.ProcessId, e.Holder!.ProcessId);
        Assert.Contains("process " + Environment.ProcessId, e.Message);
        Assert.Contains(Environment.MachineName, e.Message);
        first.ShouldRun("still-mine", false); // the refused open did not disturb the holder
    }

    [Fact]
    public void Open_SecondWriterWithAnotherFingerprint_ThrowsLockedNotMismatch()
    {
        // A live writer is reported first: the second run must wait for it, whatever its script.
        using var t = new TempFolder();
        var mine = Ckpt.Options();
        mine.Fingerprint = "sha256:first";
        using CheckpointSession first = CheckpointStore.Open(t.Checkpoint, mine);
        var other = Ckpt.Options();
        other.Fingerprint = "sha256:second";

        var e = Assert.Throws<CheckpointException>(() => CheckpointStore.Open(t.Checkpoint, other));

        Assert.Equal(CheckpointErrorIds.CheckpointLocked, e.ErrorId);
        Assert.Equal(Environment.ProcessId, e.Holder!.ProcessId);
    }

    [Fact]
    public void Open_WriterInAnotherProcess_ThrowsLockedNamingThatProcessUntilItReleases()
    {
        using var t = new TempFolder();
        CheckpointStore.Open(t.Checkpoint, Ckpt.HarnessOptions()).Dispose();
        using Process holder = Ckpt.StartHarness("hold", t.Checkpoint);
        try
        {
            string? held = Ckpt.WaitForLine(holder, "HELD");
            Assert.Equal("HELD " + holder.Id, held);

            var e = Assert.Throws<CheckpointException>(() => CheckpointStore.Open(t.Checkpoint, Ckpt.HarnessOptions()));
            Assert.Equal(CheckpointErrorIds.CheckpointLocked, e.ErrorId);
            Assert.Equal(holder.Id, e.Holder!.ProcessId);
            Assert.Contains("process " + holder.Id, e.Message);
            Assert.Equal(holder.Id, CheckpointStore.ReadSummary(t.Checkpoint).LockHolder!.ProcessId);
            Assert.False(CheckpointStore.ReadSummary(t.Checkpoint).LockIsStale);

            holder.StandardInput.WriteLine("release");
            holder.WaitForExit();
            Assert.Equal(0, holder.ExitCode);
        }
        finally
        {
            if (!holder.HasExited)
            {
                holder.Kill();
            }
        }

        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.HarnessOptions());
        Assert.Null(s.TookOverStaleLockFrom);
    }

    [Fact]
    public void Open_ThisProcessHoldsLock_OtherProcessGetsLockedNamingThisProcess()
    {
        using var t = new TempFolder();
        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.HarnessOptions());
        using Process other = Ckpt.StartHarness("open", t.Checkpoint);
        string output = other.StandardOutput.ReadToEnd();
        other.WaitForExit();

        Assert.Equal(2, other.ExitCode);
        Assert.Equal($"ERROR {CheckpointErrorIds.CheckpointLocked} {Environment.ProcessId}", output.Trim());
    }

    [Fact]
    public void Open_TwoProcessesRunSameBatchAtOnce_OneWriterAtATimeAndEveryKeyDoneOnce()
    {
        using var t = new TempFolder();
        const int keys = 3000;
        using Process a = Ckpt.StartHarness("run", t.Checkpoint, "--keys", keys.ToString(CultureInfo.InvariantCulture), "--chunk", "10", "--seed", "1");
        using Process b = Ckpt.StartHarness("run", t.Checkpoint, "--keys", keys.ToString(CultureInfo.InvariantCulture), "--chunk", "10", "--seed", "2");
        string outA = a.StandardOutput.ReadToEnd(), outB = b.StandardOutput.ReadToEnd();
        a.WaitForExit();
        b.WaitForExit();

        // Either both ran one after the other, or one was refused with the lock error naming the other.
        Assert.True(a.ExitCode == 0 || b.ExitCode == 0, outA + outB);
        foreach (var (p, output, other) in new[] { (a, outA, b), (b, outB, a) })
        {
            if (p.ExitCode != 0)
            {
                Assert.Equal(2, p.ExitCode);
                Assert.Contains($"ERROR {CheckpointErrorIds.CheckpointLocked} {other.Id}", output);
            }
        }

        Assert.All(JournalText.DoneCounts(t.Journal).Values, n => Assert.Equal(1, n));
        var all = Ckpt.ReadAll(t.Checkpoint);
        Assert.Equal(keys, all.Count);
        Assert.All(all, kv => Assert.Equal(Ckpt.Text(Payloads.For(kv.Key)), kv.Value));
    }

    [Fact]
    public void Open_HolderProcessKilled_TakesOverStaleLockAndNamesPreviousHolder()
    {
        using var t = new TempFolder();
        CheckpointStore.Open(t.Checkpoint, Ckpt.HarnessOptions()).Dispose();
        int pid;
        using (Process holder = Ckpt.StartHarness("hold", t.Checkpoint))
        {
            Assert.StartsWith("HELD", Ckpt.WaitForLine(holder, "HELD"));
            pid = holder.Id;
            holder.Kill(); // SIGKILL: no finally, no dispose
            holder.WaitForExit();
        }

        CheckpointSummary summary = CheckpointStore.ReadSummary(t.Checkpoint);
        Assert.Equal(pid, summary.LockHolder!.ProcessId);
        Assert.True(summary.LockIsStale);

        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.HarnessOptions());
        Assert.Equal(pid, s.TookOverStaleLockFrom!.ProcessId);
        Assert.Equal(Environment.ProcessId, CheckpointStore.ReadSummary(t.Checkpoint).LockHolder!.ProcessId);
    }

    [Fact]
    public void Open_HolderFileNamesExitedProcessOnThisHost_TakesOver()
    {
        using var t = new TempFolder();
        int deadPid;
        using (Process p = Process.Start(new ProcessStartInfo("true"))!)
        {
            p.WaitForExit();
            deadPid = p.Id;
        }

        WriteHolder(t, Environment.MachineName, deadPid, DateTime.UtcNow);

        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options());
        Assert.Equal(deadPid, s.TookOverStaleLockFrom!.ProcessId);
    }

    [Fact]
    public void Open_HolderFileNamesReusedPid_TakesOver()
    {
        using var t = new TempFolder();
        // This process's PID, but a start time that is not this process's: the holder was an earlier process.
        WriteHolder(t, Environment.MachineName, Environment.ProcessId, Process.GetCurrentProcess().StartTime.AddHours(-3));

        using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options());
        Assert.NotNull(s.TookOverStaleLockFrom);
    }

    [Fact]
    public void Open_HolderFileNamesAnotherHost_ThrowsLockedAndNeverTreatsItAsStale()
    {
        using var t = new TempFolder();
        WriteHolder(t, "some-other-host", 1, DateTime.UtcNow);

        var e = Assert.Throws<CheckpointException>(() => CheckpointStore.Open(t.Checkpoint, Ckpt.Options()));

        Assert.Equal(CheckpointErrorIds.CheckpointLocked, e.ErrorId);
        Assert.Equal("some-other-host", e.Holder!.Host);
        Assert.Contains("another host", e.Message);
        Assert.True(File.Exists(Path.Combine(t.Checkpoint, "lock.holder")));
        Assert.False(File.Exists(t.Manifest));
    }

    [Fact]
    public void Open_HolderFileNamesLiveProcessButOsLockFree_ThrowsLocked()
    {
        // The fallback for file systems where the OS lock does not bind: a live holder keeps the lock.
        using var t = new TempFolder();
        WriteHolder(t, Environment.MachineName, Environment.ProcessId, Process.GetCurrentProcess().StartTime);

        var e = Assert.Throws<CheckpointException>(() => CheckpointStore.Open(t.Checkpoint, Ckpt.Options()));
        Assert.Equal(CheckpointErrorIds.CheckpointLocked, e.ErrorId);
        Assert.Equal(Environment.ProcessId, e.Holder!.ProcessId);
    }

    [Fact]
    public void Open_AfterReleasedLock_LeavesNoHolderAndNextOpenIsNotATakeover()
    {
        using var t = new TempFolder();
        for (int i = 0; i < 3; i++)
        {
            using CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options());
            Assert.Null(s.TookOverStaleLockFrom);
        }

        Assert.Equal(new[] { "chunks", "journal.log", "lock", "manifest.json" }, Directory.GetFileSystemEntries(t.Checkpoint).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal));
    }
}
