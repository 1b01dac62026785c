using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using ParallelMap.Engine.Checkpoint;
using Xunit;

namespace ParallelMap.Engine.Tests.Checkpoint;

/// <summary>
/// Discarding a checkpoint (Start-ResumableBatch -Restart) deletes only a checkpoint: never a folder
/// that is not one, never what a user put beside it, never one a live writer holds.
/// </summary>
public class CheckpointDiscardTests
{
    [Fact]
    public void Discard_Checkpoint_DeletesItAndLeavesNoRenamedFolder()
    {
        using var t = new TempFolder();
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(chunkSize: 1)))
        {
            Ckpt.RunKeys(s, new[] { "a", "b" });
        }

        CheckpointStore.Discard(t.Checkpoint);

        Assert.False(Directory.Exists(t.Checkpoint));
        Assert.Empty(Directory.GetFileSystemEntries(t.Root));
    }

    [Fact]
    public void Discard_FolderWithoutManifest_RefusesAndDeletesNothing()
    {
        using var t = new TempFolder();
        Directory.CreateDirectory(Path.Combine(t.Checkpoint, "src"));
        File.WriteAllText(Path.Combine(t.Checkpoint, "README.txt"), "precious");

        var e = Assert.Throws<CheckpointException>(() => CheckpointStore.Discard(t.Checkpoint));

        Assert.Equal(CheckpointErrorIds.CheckpointFolderNotEmpty, e.ErrorId);
        Assert.Contains("not a checkpoint", e.Message, StringComparison.Ordinal);
        Assert.Equal("precious", File.ReadAllText(Path.Combine(t.Checkpoint, "README.txt")));
        Assert.True(Directory.Exists(Path.Combine(t.Checkpoint, "src")));
        Assert.False(File.Exists(Path.Combine(t.Checkpoint, "lock")), "no lock file is made in a folder that is not a checkpoint");
    }

    [Fact]
    public void Discard_CheckpointWithAForeignFile_RefusesNamingItAndKeepsEverything()
    {
        using var t = new TempFolder();
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(chunkSize: 1)))
        {
            Ckpt.RunKeys(s, new[] { "a" });
        }

        File.WriteAllText(Path.Combine(t.Checkpoint, "notes.txt"), "mine");
        string before = Ckpt.FolderState(t.Checkpoint);

        var e = Assert.Throws<CheckpointException>(() => CheckpointStore.CheckDiscardable(t.Checkpoint));
        Assert.Equal(CheckpointErrorIds.CheckpointFolderNotEmpty, e.ErrorId);
        Assert.Contains("notes.txt", e.Message, StringComparison.Ordinal);
        Assert.Throws<CheckpointException>(() => CheckpointStore.Discard(t.Checkpoint));

        Assert.Equal(before, Ckpt.FolderState(t.Checkpoint));
        Assert.Equal("value:a", Ckpt.ReadAll(t.Checkpoint)["a"]);
    }

    [Fact]
    public void Discard_DamagedCheckpoint_IsAllowed()
    {
        using var t = new TempFolder();
        using (CheckpointSession s = CheckpointStore.Open(t.Checkpoint, Ckpt.Options(chunkSize: 1)))
        {
            Ckpt.RunKeys(s, new[] { "a" });
        }

        File.WriteAllText(t.Journal, "garbage");
        CheckpointStore.Discard(t.Checkpoint);
        Assert.False(Directory.Exists(t.Checkpoint));
    }

    [Fact]
    public void Discard_CheckpointAnotherProcessHolds_RefusesNamingTheHolder()
    {
        using var t = new TempFolder();
        CheckpointStore.Open(t.Checkpoint, Ckpt.HarnessOptions()).Dispose();
        using Process holder = Ckpt.StartHarness("hold", t.Checkpoint);
        try
        {
            Assert.Equal("HELD " + holder.Id, Ckpt.WaitForLine(holder, "HELD"));

            var e = Assert.Throws<CheckpointException>(() => CheckpointStore.Discard(t.Checkpoint));

            Assert.Equal(CheckpointErrorIds.CheckpointLocked, e.ErrorId);
            Assert.Equal(holder.Id, e.Holder!.ProcessId);
            Assert.True(File.Exists(t.Manifest));
            Assert.True(File.Exists(t.Journal));

            holder.StandardInput.WriteLine("release");
            holder.WaitForExit();
        }
        finally
        {
            if (!holder.HasExited)
            {
                holder.Kill();
            }
        }

        // Released: now it may go.
        CheckpointStore.Discard(t.Checkpoint);
        Assert.False(Directory.Exists(t.Checkpoint));
    }

    [Fact]
    public void Discard_StaleLockOfADeadProcess_IsAllowed()
    {
        using var t = new TempFolder();
        CheckpointStore.Open(t.Checkpoint, Ckpt.HarnessOptions()).Dispose();
        using (Process holder = Ckpt.StartHarness("hold", t.Checkpoint))
        {
            Assert.NotNull(Ckpt.WaitForLine(holder, "HELD"));
            holder.Kill();
            holder.WaitForExit();
        }

        Assert.True(File.Exists(Path.Combine(t.Checkpoint, "lock.holder")), "a killed holder leaves its holder file");
        CheckpointStore.Discard(t.Checkpoint);
        Assert.False(Directory.Exists(t.Checkpoint));
        Assert.DoesNotContain(Directory.GetFileSystemEntries(t.Root), n => n.Contains(".discarded-", StringComparison.Ordinal));
    }
}
