using System;
using System.IO;

namespace ParallelMap.Engine.Checkpoint
{
    // Discarding a checkpoint (Start-ResumableBatch -Restart): only ever a checkpoint, never one in
    // use, never half of one.
    public static partial class CheckpointStore
    {
        /// <summary>
        /// Throws unless <paramref name="path"/> may be discarded: a checkpoint (it has a manifest)
        /// holding only what a checkpoint makes, with no live writer. Reads only; a damaged
        /// checkpoint may still be discarded on purpose.
        /// </summary>
        /// <exception cref="CheckpointException">CheckpointLocked (a live writer holds it, named in
        /// <see cref="CheckpointException.Holder"/>), or CheckpointFolderNotEmpty (not a checkpoint, or
        /// it also holds something the checkpoint did not make, named in the message).</exception>
        public static void CheckDiscardable(string path)
        {
            var layout = new CheckpointLayout(path);

            // Only a checkpoint is ever deleted: a folder without a manifest, or with anything the
            // checkpoint did not make, is refused (a mistyped path must not wipe a project).
            bool hasManifest = File.Exists(layout.Manifest);
            foreach (string entry in Directory.EnumerateFileSystemEntries(layout.Folder))
            {
                string name = Path.GetFileName(entry);
                if (!hasManifest || !CheckpointLayout.IsCheckpointEntry(name))
                {
                    throw new CheckpointException(
                        CheckpointErrorIds.CheckpointFolderNotEmpty,
                        EngineText.Format(hasManifest ? CheckpointMessages.DiscardForeignEntry : CheckpointMessages.DiscardNotACheckpoint, layout.Folder, name),
                        layout.Folder);
                }
            }

            CheckpointSummary? summary = null;
            try
            {
                summary = ReadSummary(layout.Folder);
            }
            catch (CheckpointException)
            {
                // Damaged: the lock still says whether it is in use (below, when discarding).
            }

            if (summary?.LockHolder is CheckpointLockHolder holder && !summary.LockIsStale)
            {
                throw new CheckpointException(
                    CheckpointErrorIds.CheckpointLocked,
                    EngineText.Format(CheckpointMessages.DiscardLocked, layout.Folder, holder),
                    layout.Folder) { Holder = holder };
            }
        }

        /// <summary>
        /// Deletes the checkpoint at <paramref name="path"/>, checked as <see cref="CheckDiscardable"/>
        /// does and holding its lock while checked, so that no writer is inside it. The folder is
        /// renamed first and then deleted: a crash halfway leaves a folder named
        /// "*.discarded-GUID", never half a checkpoint under the checkpoint's name.
        /// </summary>
        /// <exception cref="CheckpointException">As for <see cref="CheckDiscardable"/>; CheckpointLocked also
        /// when a writer took the lock after that check.</exception>
        public static void Discard(string path)
        {
            var layout = new CheckpointLayout(path);
            CheckDiscardable(layout.Folder);

            // The lock proves no writer is inside. It is released before the rename: on Windows
            // a folder holding an open file cannot be renamed. A writer that starts in between
            // finds no checkpoint under the name, or its folder renamed away under it mid-open,
            // which fails its open; it never writes into a half-deleted one.
            using (CheckpointLock.Acquire(layout, "discard"))
            {
            }

            string doomed = layout.Folder.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar) + ".discarded-" + Guid.NewGuid().ToString("N");
            Directory.Move(layout.Folder, doomed);
            Directory.Delete(doomed, recursive: true);
        }
    }
}
