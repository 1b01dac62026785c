using System.Diagnostics;
using System.Threading;

namespace ParallelMap.Engine
{
    // An ordered run's big items: which item may pass its outputs on while it runs (its turn), and
    // holding the others back so that none holds a million outputs until it ends.
    public sealed partial class ParallelEngine<TIn, TOut>
    {
        /// <summary>How long a worker waiting for its item's turn sleeps before it looks again, in ms.</summary>
        private const int TurnPollMs = 50;

        /// <summary>
        /// Ordered mode: the lowest sequence whose final outcome is not yet in the outbox (lock).
        /// The item at it has its turn: every earlier outcome is ahead in the outbox of whatever it
        /// publishes now, and the caller delivers the outbox in order, so its outputs passed on
        /// while it runs reach the pipeline after every earlier item's and before every later one's.
        /// Read racily (<see cref="Volatile"/>) as a hint; it only grows.
        /// </summary>
        private long _turn;

        /// <summary>Ordered mode: final outcomes already in the outbox beyond <see cref="_turn"/>, at sequence modulo the reorder window (lock).</summary>
        private bool[]? _publishedAhead;

        /// <summary>Workers waiting for their item's turn to stream (ordered mode).</summary>
        private readonly WaitQueue _turnWait = new WaitQueue();

        /// <summary>
        /// Ordered mode: the most outputs an item holds before its turn; beyond it its worker waits
        /// for the turn. Items writing fewer run fully in parallel as before; four times the outbox
        /// capacity keeps a big item's held outputs to thousands, not millions.
        /// </summary>
        private int HoldLimit => _options.OutcomeCapacity * 4;

        /// <summary>Notes a final outcome entering the outbox and moves the turn past every published sequence (lock held).</summary>
        private void PassTurnLocked(long sequence)
        {
            if (!_options.Ordered) return;
            _publishedAhead ??= new bool[_reorderWindow];
            Debug.Assert(sequence >= _turn && sequence < _turn + _reorderWindow, "the reorder window bounds the sequences in flight");
            if (sequence != _turn)
            {
                _publishedAhead[sequence % _reorderWindow] = true;
                return;
            }

            long turn = _turn + 1;
            while (_publishedAhead[turn % _reorderWindow])
            {
                _publishedAhead[turn % _reorderWindow] = false;
                turn++;
            }

            Volatile.Write(ref _turn, turn);
            _turnWait.WakeAll(_lock);
        }

        /// <summary>
        /// Whether the slot's current item may stream now (<see cref="ItemContext{TOut}.MayStream"/>
        /// says what the answer means to a worker). Called on the worker's own thread.
        /// </summary>
        internal bool MayStream(WorkerSlot<TIn, TOut> slot, int held)
        {
            if (!_options.Ordered) return true;
            WorkEntry? current = slot.Current;
            if (current is null) return false;
            long seq = current.Sequence;
            if (held < HoldLimit && Volatile.Read(ref _turn) < seq) return false;

            Monitor.Enter(_lock);
            try
            {
                // Earlier items of this worker's own batch may be buffered here, and the turn waits for them.
                lock (slot.Sync) MovePendingLocked(slot);
                bool waiting = false;
                try
                {
                    while (true)
                    {
                        // Other workers' buffered outcomes count too; the caller would move them before it sleeps.
                        CollectPendingLocked();
                        if (_outbox.Count > 0) _callerWait.WakeOne(_lock);
                        if (_turn >= seq) return true;
                        if (held < HoldLimit || _stopping || Volatile.Read(ref _disposed) != 0 || slot.Aborted || !ReferenceEquals(slot.Current, current)) return false;

                        // If no worker runs the item whose turn it is (it waits for a retry or for a
                        // free worker), waiting could wait for ever: every worker may be one that
                        // waits. Hold on instead; the worker asks again a few hundred outputs later.
                        if (!IsRunningLocked(_turn)) return false;
                        if (!waiting)
                        {
                            waiting = true;
                            lock (slot.Sync) slot.TurnWaitSince = Stopwatch.GetTimestamp();
                        }

                        _turnWait.ParkLocked(_lock, TurnPollMs);
                    }
                }
                finally
                {
                    if (waiting)
                    {
                        // The wait is not the item's running time: its timeout starts that much later.
                        lock (slot.Sync)
                        {
                            slot.CurrentStart += Stopwatch.GetTimestamp() - slot.TurnWaitSince;
                            slot.TurnWaitSince = 0;
                        }
                    }
                }
            }
            finally
            {
                Monitor.Exit(_lock);
            }
        }

        /// <summary>Whether some worker is running the item with this sequence now (lock held).</summary>
        private bool IsRunningLocked(long sequence)
        {
            foreach (var slot in _threads)
            {
                lock (slot.Sync)
                {
                    if (slot.Current is WorkEntry e && e.Sequence == sequence) return true;
                }
            }

            return false;
        }
    }
}
