using System;
using System.IO;

namespace ParallelMap.Engine.Checkpoint
{
    // The journal records a writer appends, and what a journal I/O error does to the session.
    internal sealed partial class CheckpointWriter
    {
        private enum JournalOp
        {
            Submitted,
            Failure,
            End,
        }

        /// <summary>Appends one record; an I/O error faults the session (an invalid key does not: nothing was appended).</summary>
        private void AppendJournal(JournalOp op, string key, string text = "", int attempts = 0)
        {
            try
            {
                switch (op)
                {
                    case JournalOp.Submitted: _journal.AppendSubmitted(key); break;
                    case JournalOp.Failure: _journal.AppendFailure(attempts, key, text); break;
                    default: _journal.AppendEnd(key); break;
                }
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw JournalFailed(e);
            }
        }

        private void SyncJournal()
        {
            try
            {
                _journal.Sync();
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw JournalFailed(e);
            }
        }

        private CheckpointException JournalFailed(Exception e)
        {
            _faulted = true;
            return new CheckpointException(CheckpointErrorIds.CheckpointSaveFailed, EngineText.Format(CheckpointMessages.JournalWriteFailed, _journal.Path, e.Message), _journal.Path, e);
        }

        /// <summary>Appends the chunk's C and D records and writes them to the file (not yet fsynced). Under the gate.</summary>
        internal void AppendChunkRecords(ChunkJob job)
        {
            _journal.AppendChunk(job.Number, job.Keys.Length, _saveHook != null);
            for (int i = 0; i < job.Keys.Length; i++)
            {
                _journal.AppendDone(job.Number, i, job.Keys[i]);
            }

            _journal.Write();
            _faultHook?.Invoke("journal-written");
        }

        /// <summary>Makes the journal's written records durable (the saver, outside the gate).</summary>
        internal void FlushJournalToDisk() => _journal.FlushToDisk();
    }
}
