using System;
using System.Collections.Generic;
using System.IO;
using System.Security.Cryptography;
using System.Text;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>
    /// The checkpoint store: a folder holding a manifest, an append-only journal, result chunk files
    /// and a lock (docs/checkpoint-format.md). <see cref="Open"/> makes or resumes a checkpoint and
    /// returns the one writer session; the Read methods take no lock, run nothing, change nothing,
    /// and may run while a writer appends (they see a consistent prefix of the journal).
    /// Payloads are opaque bytes: the store never interprets them.
    /// </summary>
    public static partial class CheckpointStore
    {
        /// <summary>
        /// Makes a checkpoint in <paramref name="path"/> or resumes the one there, and takes its lock.
        /// On resume the journal is replayed (a torn last record is dropped and cut off; other damage
        /// throws <see cref="CheckpointErrorIds.CheckpointCorrupt"/> and changes nothing), and every chunk
        /// of the store's own writer that it names is checked to exist and be whole (structure, not
        /// payload CRCs: docs/checkpoint-format.md, "What opening checks").
        /// </summary>
        /// <exception cref="ArgumentException">An option is out of range (<see cref="ArgumentException.ParamName"/> names it).</exception>
        /// <exception cref="CheckpointException">With <see cref="CheckpointException.ErrorId"/>
        /// CheckpointLocked, CheckpointCorrupt, CheckpointVersionUnsupported, CheckpointFingerprintMismatch,
        /// CheckpointNotWritable, CheckpointNotFound, CheckpointExists or CheckpointFolderNotEmpty.</exception>
        public static CheckpointSession Open(string path, CheckpointOptions options)
        {
            if (path is null)
            {
                throw new ArgumentNullException(nameof(path));
            }

            if (options is null)
            {
                throw new ArgumentNullException(nameof(options));
            }

            options.Validate();
            var layout = new CheckpointLayout(path);

            // Everything that can be refused without writing is checked before anything is
            // created, so a refused Open leaves a folder exactly as it found it.
            CheckpointManifest? manifest = null;
            if (File.Exists(layout.Manifest))
            {
                if (options.Mode == CheckpointOpenMode.CreateNew)
                {
                    throw new CheckpointException(CheckpointErrorIds.CheckpointExists, EngineText.Format(CheckpointMessages.Exists, layout.Folder), layout.Folder);
                }

                CheckpointLock.ThrowIfLiveHolder(layout);
                manifest = ReadCheckedManifest(layout, options);
            }
            else
            {
                try
                {
                    CheckCanCreate(layout, options.Mode);
                }
                catch (CheckpointException) when (File.Exists(layout.Manifest))
                {
                    // Made meanwhile by another writer, between our two looks: open it as it now is
                    // (a writer still at it holds the lock, and that open says CheckpointLocked).
                    // Before, its half-made files were called someone else's: the two-process xunit
                    // test got CheckpointFolderNotEmpty in CI.
                    return Open(path, options);
                }
                catch (CheckpointException)
                {
                    // A writer creating it now, before its manifest: CheckpointLocked names it.
                    CheckpointLock.ThrowIfLiveHolder(layout);
                    throw;
                }
            }

            try
            {
                Directory.CreateDirectory(layout.Folder);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw NotWritable(layout, e);
            }

            string runId = Guid.NewGuid().ToString("N");
            CheckpointLock lockHandle = CheckpointLock.Acquire(layout, runId);
            JournalWriter? journal = null;
            try
            {
                bool isNew = false;
                if (manifest is null)
                {
                    // Another writer may have made it between our look and our lock.
                    if (File.Exists(layout.Manifest))
                    {
                        if (options.Mode == CheckpointOpenMode.CreateNew)
                        {
                            throw new CheckpointException(CheckpointErrorIds.CheckpointExists, EngineText.Format(CheckpointMessages.Exists, layout.Folder), layout.Folder);
                        }

                        manifest = ReadCheckedManifest(layout, options);
                    }
                    else
                    {
                        DurableIo.WriteNewFileDurably(layout.Manifest, ManifestFile.Serialize(DateTime.UtcNow, options.Fingerprint, options.Metadata));
                        manifest = ManifestFile.Read(layout.Manifest);
                        isNew = true;
                    }
                }

                JournalReplay replay;
                if (File.Exists(layout.Journal))
                {
                    // Checked before anything is written (the chunks folder is not even re-created):
                    // resuming over a missing or cut chunk would count its keys done forever.
                    replay = ReplayAndCheck(layout);
                }
                else
                {
                    // Made with the manifest, so missing only if a creation crashed in between;
                    // then there can be no chunk yet, and chunks without a journal are damage.
                    ThrowIfChunksWithoutJournal(layout);
                    DurableIo.WriteNewFileDurably(layout.Journal, JournalWriter.NewJournalContent());
                    replay = JournalReplay.Empty();
                }

                Directory.CreateDirectory(layout.Chunks);
                DurableIo.SyncDirectory(layout.Folder);
                long nextChunk = Math.Max(replay.MaxChunk, ScanChunksAndClean(layout)) + 1;

                journal = JournalWriter.OpenAppend(layout.Journal, replay.ValidLength);
                journal.AppendRun(runId, lockHandle.Holder.Host, lockHandle.Holder.ProcessId, lockHandle.Holder.AcquiredUtc);
                journal.Sync();
                return new CheckpointWriter(layout, options, manifest, isNew, lockHandle, replay, journal, nextChunk, runId);
            }
            catch (Exception e)
            {
                journal?.Dispose();
                lockHandle.Dispose();
                if (e is IOException || e is UnauthorizedAccessException)
                {
                    throw NotWritable(layout, e);
                }

                throw;
            }
        }

        private static CheckpointManifest ReadCheckedManifest(CheckpointLayout layout, CheckpointOptions options)
        {
            CheckpointManifest manifest = ManifestFile.Read(layout.Manifest);
            if (!options.AllowFingerprintMismatch && !string.Equals(manifest.Fingerprint, options.Fingerprint, StringComparison.Ordinal))
            {
                throw new CheckpointException(
                    CheckpointErrorIds.CheckpointFingerprintMismatch,
                    EngineText.Format(CheckpointMessages.FingerprintMismatch, layout.Folder, manifest.Fingerprint, options.Fingerprint),
                    layout.Manifest);
            }

            return manifest;
        }

        /// <summary>Refuses to make a checkpoint where one cannot be made: none wanted, a journal without a manifest, or someone else's files.</summary>
        private static void CheckCanCreate(CheckpointLayout layout, CheckpointOpenMode mode)
        {
            if (mode == CheckpointOpenMode.OpenExisting)
            {
                throw new CheckpointException(CheckpointErrorIds.CheckpointNotFound, EngineText.Format(CheckpointMessages.NotFound, layout.Folder, CheckpointLayout.ManifestName), layout.Folder);
            }

            if (!Directory.Exists(layout.Folder))
            {
                return;
            }

            if (File.Exists(layout.Journal))
            {
                throw CheckpointException.Corrupt(layout.Manifest, 0, EngineText.Format(CheckpointMessages.ManifestMissingJournalPresent, layout.Folder, layout.Manifest));
            }

            // What a creation that crashed early can leave: the lock files, temporaries, an empty chunks folder.
            foreach (string entry in Directory.EnumerateFileSystemEntries(layout.Folder))
            {
                string name = Path.GetFileName(entry);
                bool ours = name == CheckpointLayout.LockName
                    || name == CheckpointLayout.HolderName
                    || name.EndsWith(CheckpointLayout.TempExtension, StringComparison.Ordinal)
                    || (name == CheckpointLayout.ChunksName && Directory.Exists(entry) && !HasEntries(entry));
                if (!ours)
                {
                    throw new CheckpointException(
                        CheckpointErrorIds.CheckpointFolderNotEmpty,
                        EngineText.Format(CheckpointMessages.FolderNotEmpty, layout.Folder, CheckpointLayout.ManifestName),
                        layout.Folder);
                }
            }
        }

        /// <summary>
        /// Replays an existing journal and checks that everything it calls saved is there: the journal
        /// has a record if there are chunks (an empty journal next to results is a lost record, not
        /// a new run), and every chunk of the store's own writer that a C record names exists, has the
        /// C record's entry count and ends exactly after its last entry. Payload CRCs are not read
        /// here (that would cost reading every result; see docs/checkpoint-format.md); readers of
        /// results check them. Throws CheckpointCorrupt naming the file; changes nothing.
        /// </summary>
        private static JournalReplay ReplayAndCheck(CheckpointLayout layout)
        {
            JournalReplay replay = JournalReplay.Run(layout.Journal);
            if (replay.ValidLength == 0)
            {
                ThrowIfChunksBesideEmptyJournal(layout);
            }

            foreach (OwnChunk chunk in replay.OwnChunks)
            {
                ChunkReader.VerifyStructure(layout.ChunkPath(chunk.Number), chunk.Count);
            }

            return replay;
        }

        /// <summary>
        /// For a reader: whether there is a journal to read. A missing one is only an interrupted
        /// creation (the manifest is written first, then the journal, then the chunks folder), so
        /// with chunks beside it the journal was lost: CheckpointCorrupt.
        /// </summary>
        private static bool JournalExists(CheckpointLayout layout)
        {
            if (File.Exists(layout.Journal))
            {
                return true;
            }

            ThrowIfChunksWithoutJournal(layout);
            return File.Exists(layout.Journal);
        }

        /// <summary>
        /// The cheap part of <see cref="ReplayAndCheck"/> for the streaming readers, done when they are
        /// called rather than half-way through an enumeration: the journal is there, and, if chunks
        /// are, it holds at least one record. False when there is no journal (an interrupted creation).
        /// </summary>
        private static bool CheckJournalStart(CheckpointLayout layout)
        {
            if (!JournalExists(layout))
            {
                return false;
            }

            bool any;
            using (var reader = new JournalReader(layout.Journal, decodeText: false))
            {
                any = reader.Read(new JournalRecord());
            }

            if (!any)
            {
                ThrowIfChunksBesideEmptyJournal(layout);
            }

            return true;
        }

        private static void ThrowIfChunksWithoutJournal(CheckpointLayout layout)
        {
            // Re-checked after the chunks: a writer making the checkpoint meanwhile writes the journal
            // before it creates the chunks folder, so a journal seen missing and then chunks are
            // either damage or that writer, and a second look tells which.
            if (Directory.Exists(layout.Chunks) && HasEntries(layout.Chunks) && !File.Exists(layout.Journal))
            {
                throw CheckpointException.Corrupt(layout.Journal, 0, EngineText.Format(CheckpointMessages.JournalMissingChunksPresent, layout.Folder, layout.Journal));
            }
        }

        private static void ThrowIfChunksBesideEmptyJournal(CheckpointLayout layout)
        {
            // A writer gives the journal its header (temporary, fsync, rename) before it creates the
            // chunks folder, so no crash leaves chunks beside a journal without a valid record.
            if (Directory.Exists(layout.Chunks) && HasEntries(layout.Chunks))
            {
                throw CheckpointException.Corrupt(layout.Journal, 0, EngineText.Format(CheckpointMessages.JournalEmptyChunksPresent, layout.Folder, layout.Journal));
            }
        }

        private static bool HasEntries(string directory)
        {
            using (IEnumerator<string> e = Directory.EnumerateFileSystemEntries(directory).GetEnumerator())
            {
                return e.MoveNext();
            }
        }

        /// <summary>
        /// The highest number any chunks-folder entry starts with, temporaries and a hook's litter
        /// included, so that no name is used twice. Our own temporaries (a crash before their rename)
        /// are then deleted: nothing refers to them.
        /// </summary>
        private static long ScanChunksAndClean(CheckpointLayout layout)
        {
            long max = 0;
            var temps = new List<string>();
            foreach (string entry in Directory.EnumerateFileSystemEntries(layout.Chunks))
            {
                string name = Path.GetFileName(entry);
                max = Math.Max(max, CheckpointLayout.LeadingNumber(name));
                if (name.EndsWith(CheckpointLayout.ChunkExtension + CheckpointLayout.TempExtension, StringComparison.Ordinal) || CheckpointLayout.IsSpillName(name))
                {
                    temps.Add(entry);
                }
            }

            foreach (string temp in temps)
            {
                DurableIo.TryDelete(temp);
            }

            return max;
        }

        private static CheckpointException NotWritable(CheckpointLayout layout, Exception e)
            => new CheckpointException(CheckpointErrorIds.CheckpointNotWritable, EngineText.Format(CheckpointMessages.NotWritable, layout.Folder, e.Message), layout.Folder, e);
    }
}
