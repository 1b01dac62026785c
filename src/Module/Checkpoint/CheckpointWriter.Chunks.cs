using System;
using System.Diagnostics;
using System.IO;

namespace ParallelMap.Engine.Checkpoint
{
    // Chunk buffering: when a chunk is due, and saving it here or handing it to the saver.
    internal sealed partial class CheckpointWriter
    {
        private void MarkUnsaved()
        {
            if (_oldestUnsaved < 0)
            {
                _oldestUnsaved = _clock();
            }
        }

        private bool SaveIfDue()
        {
            if (_oldestUnsaved < 0 || _clock() - _oldestUnsaved < _chunkMaxAgeTicks)
            {
                return false;
            }

            if (_background && _bufferKeys.Count > 0)
            {
                // Handed over without waiting; if the saver is busy, a later call hands it.
                if (!_saver!.IsBusy)
                {
                    HandToSaver();
                }

                return true;
            }

            SaveAll();
            return true;
        }

        private void SaveAll()
        {
            WaitForSaver();
            if (_bufferKeys.Count > 0)
            {
                SaveChunk();
            }
            else if (_journal.HasUnsynced)
            {
                SyncJournal();
            }

            _oldestUnsaved = -1;
        }


        /// <summary>
        /// Saves the buffered results as the next chunk and only then journals its keys done:
        /// chunk written and fsynced, renamed into place, folder fsynced; then the C and D records
        /// appended and the journal fsynced. A crash anywhere before that last fsync completes leaves
        /// the keys not done (they re-run); the chunk's name is never used again. Runs under the gate.
        /// </summary>
        private void SaveChunk()
        {
            Debug.Assert(_bufferKeys.Count > 0, "SaveChunk needs something to save");
            ChunkJob job = TakeChunk();
            try
            {
                WriteChunk(job);
                AppendChunkRecords(job);
                _journal.Sync();
            }
            catch (Exception e)
            {
                _faulted = true;
                throw SaveFailed(job, e);
            }

            MarkDone(job);
            ClearBuffer();
        }

        /// <summary>
        /// Hands the buffered results to the background saver, which saves them exactly as
        /// <see cref="SaveChunk"/> does while the caller goes on; their keys are done once it has.
        /// Waits first for the chunk before (so at most two chunks are held). Runs under the gate.
        /// </summary>
        private void HandToSaver()
        {
            WaitForSaver();
            _saver!.Hand(TakeChunk());
            ClearBuffer();
        }

        /// <summary>Waits (releasing the gate) until no chunk is being saved; throws if that save failed.</summary>
        private void WaitForSaver()
        {
            _saver?.WaitIdle();
            if (_faulted)
            {
                ThrowIfNotWritable();
            }
        }


        private ChunkJob TakeChunk()
        {
            long number = _nextChunk++;
            return new ChunkJob(number, _layout.ChunkPath(number), _bufferKeys.ToArray(), _bufferPayloads.ToArray(), _bufferSpills.ToArray());
        }

        private void ClearBuffer()
        {
            _bufferKeys.Clear();
            _bufferPayloads.Clear();
            _bufferSpills.Clear();
            _bufferBytes = 0;
            _oldestUnsaved = -1; // the chunk's save fsyncs the journal, covering every record appended before it
        }

        /// <summary>Writes the chunk's file (or has the save hook write it) and makes it durable.</summary>
        internal void WriteChunk(ChunkJob job)
        {
            if (_saveHook != null)
            {
                try
                {
                    _saveHook(job.Path, WholePayloads(job), job.Keys);
                }
                catch (Exception e)
                {
                    throw new CheckpointException(
                        CheckpointErrorIds.CheckpointSaveFailed,
                        EngineText.Format(CheckpointMessages.SaveHookFailed, job.Path, job.Keys.Length, e.Message),
                        job.Path,
                        e);
                }

                // The hook's file (if it made one at the chunk path) is made durable as ours would
                // be; what a hook writes elsewhere is its own to make durable.
                if (File.Exists(job.Path))
                {
                    using (var fs = new FileStream(job.Path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, 1))
                    {
                        DurableIo.SyncFile(fs);
                    }

                    DurableIo.SyncDirectory(_layout.Chunks);
                }
            }
            else
            {
                string temp = job.Path + CheckpointLayout.TempExtension;
                ChunkFile.Write(temp, job.Keys, job.Payloads, job.Spills);
                _faultHook?.Invoke("chunk-written");
                File.Move(temp, job.Path); // never over an existing file
                DurableIo.SyncDirectory(_layout.Chunks);
            }

            _faultHook?.Invoke("chunk-renamed");

            // The chunk holds their bytes durably now; a failure before here leaves them for Dispose.
            foreach (ResultSpill? spill in job.Spills) spill?.Delete();
        }

        /// <summary>The payloads as a save hook takes them, spills read back whole (a hook gets byte arrays).</summary>
        private static byte[][] WholePayloads(ChunkJob job)
        {
            var payloads = (byte[][])job.Payloads.Clone();
            for (int i = 0; i < payloads.Length; i++)
            {
                if (job.Spills[i] is ResultSpill spill) payloads[i] = File.ReadAllBytes(spill.FilePath);
            }

            return payloads;
        }

        /// <summary>The chunk's keys are done: its file and its journal records are durable. Under the gate.</summary>
        internal void MarkDone(ChunkJob job)
        {
            foreach (string key in job.Keys)
            {
                KeyState s = _keys[key];
                if ((s & KeyState.Failed) != 0)
                {
                    _failedCount--;
                }

                _keys[key] = (s & ~KeyState.Failed) | KeyState.Done;
                _doneCount++;
            }
        }

        /// <summary>The saver's chunk failed (gate held): the session writes no more and the next call throws this.</summary>
        internal void BackgroundSaveFailed(CheckpointException failure)
        {
            _faulted = true;
            _saverFailure = failure;
        }

        /// <summary>The error a failed chunk save reports (a <see cref="CheckpointException"/> passes through).</summary>
        internal static CheckpointException SaveFailed(ChunkJob job, Exception e) => e as CheckpointException
            ?? new CheckpointException(
                CheckpointErrorIds.CheckpointSaveFailed,
                EngineText.Format(CheckpointMessages.SaveFailed, job.Path, job.Keys.Length, e.Message),
                job.Path,
                e);
    }
}
