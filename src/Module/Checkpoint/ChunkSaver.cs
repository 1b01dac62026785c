using System;
using System.Diagnostics;
using System.Threading;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>
    /// The background saver of a <see cref="CheckpointWriter"/> (<see cref="CheckpointOptions.BackgroundSave"/>):
    /// one thread of the session's own that saves one handed-over chunk at a time exactly as the
    /// writer would, while the caller goes on recording and submitting.
    /// </summary>
    /// <remarks>
    /// It shares the writer's gate rather than having a lock of its own, so there is one lock and
    /// no order to keep: every member but <see cref="Join"/> is called with the gate held, and the
    /// thread takes the gate only to pick up a chunk, to append the chunk's journal records, and to
    /// report the result. The chunk file itself is written without the gate (it is the saver's own
    /// until its records are journaled). At most one chunk is held here, so with the one the
    /// caller is filling, at most two chunks are in memory.
    /// </remarks>
    internal sealed class ChunkSaver
    {
        private readonly object _gate;
        private readonly CheckpointWriter _writer;

        /// <summary>Started with the first chunk handed over (gate).</summary>
        private Thread? _thread;

        /// <summary>The chunk handed over and not yet saved (or failed); at most one (gate).</summary>
        private ChunkJob? _pending;

        /// <summary>Set once the session is disposed: the thread leaves when nothing is pending (gate).</summary>
        private bool _closing;

        internal ChunkSaver(object gate, CheckpointWriter writer)
        {
            _gate = gate;
            _writer = writer;
        }

        /// <summary>True while a chunk is handed over and not yet saved (gate held).</summary>
        internal bool IsBusy => _pending != null;

        /// <summary>Hands a chunk over (gate held; the caller waited with <see cref="WaitIdle"/> first).</summary>
        internal void Hand(ChunkJob job)
        {
            Debug.Assert(Monitor.IsEntered(_gate), "the saver is handed chunks under the gate");
            Debug.Assert(_pending == null && !_closing, "one chunk at a time, and none after close");
            _pending = job;
            if (_thread == null)
            {
                _thread = new Thread(Run) { IsBackground = true, Name = "ParallelMap checkpoint" };
                _thread.Start();
            }

            Monitor.PulseAll(_gate);
        }

        /// <summary>Waits (releasing the gate) until no chunk is being saved.</summary>
        internal void WaitIdle()
        {
            Debug.Assert(Monitor.IsEntered(_gate), "the saver is waited for under the gate");
            while (_pending != null)
            {
                Monitor.Wait(_gate);
            }
        }

        /// <summary>Tells the thread to leave once idle (gate held).</summary>
        internal void Close()
        {
            Debug.Assert(Monitor.IsEntered(_gate), "the saver is closed under the gate");
            _closing = true;
            Monitor.PulseAll(_gate);
        }

        /// <summary>Waits for the thread to leave (without the gate; after <see cref="Close"/>).</summary>
        internal void Join() => _thread?.Join();

        private void Run()
        {
            while (true)
            {
                ChunkJob job;
                lock (_gate)
                {
                    while (_pending == null && !_closing)
                    {
                        Monitor.Wait(_gate);
                    }

                    if (_pending == null)
                    {
                        return;
                    }

                    job = _pending;
                }

                CheckpointException? failure = null;
                try
                {
                    // The chunk file is the saver's own: written without the gate, so the caller
                    // records and submits meanwhile. The journal's records are appended under it.
                    _writer.WriteChunk(job);
                    lock (_gate)
                    {
                        _writer.AppendChunkRecords(job);
                    }

                    _writer.FlushJournalToDisk();
                }
                catch (Exception e)
                {
                    failure = CheckpointWriter.SaveFailed(job, e);
                }

                lock (_gate)
                {
                    if (failure == null)
                    {
                        _writer.MarkDone(job);
                    }
                    else
                    {
                        _writer.BackgroundSaveFailed(failure);
                    }

                    _pending = null;
                    Monitor.PulseAll(_gate);
                }
            }
        }
    }
}
