using System;
using System.Collections.Generic;
using System.Threading;
using ParallelMap.Engine;

namespace ParallelMap.Commands
{
    // Sending items to the child: the batch an item starts, the batch sent ahead, and a send that
    // fails because the child died just before it.
    internal sealed partial class ChannelWorker
    {
        /// <summary>
        /// Sends the batch that starts with the item being processed, and gives the child that
        /// holds it. A send can fail because the child died just before it (a remote host gone,
        /// whose ssh had ended: "Broken pipe" came back as the item's error, in a Remote test):
        /// the items never reached it, so none of them failed. Once the child is seen dead, a
        /// place the endpoint counts as lost gives the items to other workers; a local child
        /// is replaced and sent the batch once more. A send that fails to a child still alive
        /// is the item's error, as before.
        /// </summary>
        private DriverChannel SendFirst(DriverChannel child, object? input, long sequence)
        {
            try
            {
                SendBatch(child, input, sequence);
                return child;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A stop (Ctrl-C, a timeout) ends the wait at once.
                var waited = System.Diagnostics.Stopwatch.StartNew();
                while (!child.IsDead && waited.ElapsedMilliseconds < DeathSeenMs && !AbortToken.WaitHandle.WaitOne(50))
                {
                }

                AbortToken.ThrowIfCancellationRequested();
                if (!child.IsDead) throw;
                _sent.Clear();
                WorkerLostException? lost = _endpoint.Lost(child);
                Discard(child);
                if (lost is not null) throw lost;
                Recycle();
                SendBatch(_child!, input, sequence);
                return _child!;
            }
        }

        private void SendBatch(DriverChannel child, object? input, long sequence)
        {
            int room = MaxBatch - 1;
            if (_setup.MaxItemsPerWorker > 0) room = Math.Min(room, _setup.MaxItemsPerWorker - child.ItemsDone - 1);
            if (_recycleDue) room = 0;
            _sentAlone = _runAlone > 0;
            if (_runAlone > 0)
            {
                room = 0;
                _runAlone--;
            }

            PeekUpcoming(_upcoming, Math.Max(0, room));
            _upcoming.Insert(0, new KeyValuePair<long, object?>(sequence, input));
            SendUpcoming(child);
        }

        /// <summary>
        /// Sends the items in <see cref="_upcoming"/> as one message and, once it is sent, notes
        /// each as sent, in order: items a failed send did not deliver are not awaited.
        /// </summary>
        private void SendUpcoming(DriverChannel child)
        {
            var batch = new object?[_upcoming.Count];
            for (int i = 0; i < _upcoming.Count; i++) batch[i] = _upcoming[i].Value;
            try
            {
                child.Send(batch);
                foreach (var pair in _upcoming) _sent.Enqueue(pair.Key);
            }
            finally
            {
                _upcoming.Clear();
            }
        }

        /// <summary>
        /// Takes the next batch from the engine (<see cref="Worker{TIn, TOut}.TakeMore"/>) and sends
        /// it while the child runs its last item, unless that item runs alone, a recycle is due,
        /// or -MaxItemsPerWorker leaves no room. The items then stay this worker's, in order: a
        /// timeout, a stop or a lost host gives them back like the rest of any batch.
        /// </summary>
        private void SendAhead(DriverChannel child)
        {
            int room = MaxBatch;
            if (_setup.MaxItemsPerWorker > 0) room = Math.Min(room, _setup.MaxItemsPerWorker - child.ItemsDone - _sent.Count);
            if (_sentAlone || _recycleDue || _runAlone > 0 || room <= 0) return;
            int taken = TakeMore(room);
            if (taken == 0) return;
            PeekUpcoming(_upcoming, taken);
            if (_upcoming.Count == 0) return;
            try
            {
                SendUpcoming(child);
            }
            catch (Exception)
            {
                // The child may be dying under its last item: a CI run once saw an item that
                // crashed its process fail with ItemFailed, not WorkerProcessExited, and a send
                // into the dying child is the one new way the send ahead made for an error with
                // no record. Sending ahead is only a head start: the items stay this worker's,
                // unsent, and go out the usual way, to a new child, when the engine hands them
                // over; the running item's death is seen by its own wait.
            }
        }
    }
}
