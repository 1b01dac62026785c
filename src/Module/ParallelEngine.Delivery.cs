using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;

namespace ParallelMap.Engine
{
    // The caller's side: submitting, waiting, and handing the outbox to the sink through the reorder window.
    public sealed partial class ParallelEngine<TIn, TOut>
    {
        /// <summary>
        /// Submits one item. Blocks while the input (or, in ordered mode, the reorder window) is
        /// full, delivering outcomes meanwhile; before returning it delivers whatever is ready, so
        /// output streams while input is still arriving. After a stop the item is reported
        /// <see cref="ItemStatus.NotRun"/> at once.
        /// </summary>
        /// <param name="input">The item.</param>
        public void Submit(TIn input)
        {
            CheckCaller();
            if (_inputCompletedByCaller) throw new InvalidOperationException(Messages.InputCompleted);
            Exception? fault = Volatile.Read(ref _fault);
            if (fault is not null)
            {
                DeliverReady();
                throw fault;
            }

            if (_undelivered is not null) DeliverReady();
            long seq = _submitted;
            var entry = new WorkEntry(seq, input);
            List<object>? ready = null;
            while (true)
            {
                if (_window is not null && seq - _nextToDeliver >= _reorderWindow)
                {
                    if (WaitForActivity((int)_options.IdleCallbackInterval.TotalMilliseconds)) _sink.OnWait();
                    DeliverReady();
                    continue;
                }

                bool waited = false;
                Monitor.Enter(_lock);
                try
                {
                    if (_stopping)
                    {
                        Volatile.Write(ref _submitted, seq + 1);
                        AddToOutboxLocked(MakeOutcome(entry, ItemStatus.NotRun, null, Array.Empty<TOut>(), TimeSpan.Zero, 0));
                        ready = TakeOutboxLocked();
                        AssertInvariants();
                        break;
                    }

                    if (_input.Count < _options.InputCapacity)
                    {
                        _input.Enqueue(entry);
                        Volatile.Write(ref _submitted, seq + 1);
                        WakeOrSpawnLocked();

                        // Collect what is ready in the same acquisition: output streams while input arrives.
                        if (_outbox.Count > 0) ready = TakeOutboxLocked();
                        AssertInvariants();
                        break;
                    }

                    waited = true;
                    WaitLocked(_options.IdleCallbackInterval);
                }
                finally
                {
                    Monitor.Exit(_lock);
                }

                if (waited)
                {
                    _sink.OnWait();
                    DeliverReady();
                }
            }

            if (ready is not null) Deliver(ready);
        }

        /// <summary>Delivers whatever outcomes and records are ready, without blocking.</summary>
        public void Pump()
        {
            CheckCaller();
            DeliverReady();
        }

        /// <summary>Says that no more items will be submitted; workers exit once the queue is empty.</summary>
        public void Complete()
        {
            CheckCaller();
            _inputCompletedByCaller = true;
            lock (_lock)
            {
                if (_inputCompleted) return;
                _inputCompleted = true;
                _workerWait.WakeAll(_lock);
                AssertInvariants();
            }
        }

        /// <summary>
        /// Delivers outcomes as they arrive for up to <paramref name="timeout"/>; returns true as soon
        /// as every item submitted so far has been delivered.
        /// </summary>
        /// <param name="timeout">How long to wait at most.</param>
        /// <returns>True when nothing submitted is still outstanding.</returns>
        public bool WaitForOutcomes(TimeSpan timeout)
        {
            CheckCaller();
            long deadline = _clock.ElapsedTicks + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
            while (true)
            {
                DeliverReady();
                if (_delivered == _submitted && _undelivered is null) return true;
                long left = deadline - _clock.ElapsedTicks;
                if (left <= 0) return false;
                WaitForActivity((int)Math.Max(1, Math.Min(int.MaxValue, left * 1000 / Stopwatch.Frequency)));
            }
        }

        /// <summary>
        /// Completes the input and delivers every outcome, calling the sink's OnWait at the idle
        /// interval meanwhile. Throws the run's fault, if a worker could not start.
        /// </summary>
        public void Drain()
        {
            Complete();
            while (!WaitForOutcomes(_options.IdleCallbackInterval))
            {
                _sink.OnWait();
            }

            Exception? fault = Fault;
            if (fault is not null) throw fault;
        }

        private void CheckCaller()
        {
            if (Environment.CurrentManagedThreadId != _callerThreadId) throw new InvalidOperationException(Messages.WrongThread);
        }

        /// <summary>Waits under the lock for any activity; call with the lock held, returns with it held.</summary>
        private void WaitLocked(TimeSpan timeout) => WaitLocked((int)timeout.TotalMilliseconds);

        private void WaitLocked(int ms)
        {
            // A worker buffers finished outcomes while it goes on with its batch; take them now
            // rather than sleep while they wait behind a long item.
            CollectPendingLocked();
            if (_outbox.Count > 0) return;

            // Wakes deferred because items looked fast must not outlive the caller's attention.
            if (_input.Count > 0) _workerWait.WakeAll(_lock);
            _callerWait.ParkLocked(_lock, ms);
        }

        /// <summary>Waits until the outbox has something, a worker exits, or the timeout passes; false if nothing needed waiting for.</summary>
        private bool WaitForActivity(int ms)
        {
            lock (_lock)
            {
                if (_outbox.Count > 0) return false;
                WaitLocked(ms);
                return true;
            }
        }

        /// <summary>Hands the outbox to the sink; resumes a delivery a throwing sink interrupted.</summary>
        private void DeliverReady()
        {
            while (true)
            {
                if (_undelivered is not null)
                {
                    Deliver(_undelivered);
                    continue;
                }

                List<object> batch;
                lock (_lock)
                {
                    if (_outbox.Count == 0) return;
                    batch = TakeOutboxLocked();
                }

                Deliver(batch);
            }
        }

        /// <summary>Swaps the outbox for an empty list (lock held) and frees workers waiting for room.</summary>
        private List<object> TakeOutboxLocked()
        {
            List<object> batch = _outbox;
            _outbox = _spareOutbox ?? new List<object>();
            _spareOutbox = null;
            _outboxStreamed = 0;
            _roomWait.WakeAll(_lock);
            return batch;
        }

        /// <summary>Delivers a taken outbox; if the sink throws, the rest is kept for the next delivery.</summary>
        private void Deliver(List<object> batch)
        {
            if (!ReferenceEquals(_undelivered, batch))
            {
                _undelivered = batch;
                _undeliveredIndex = 0;
            }

            while (_undeliveredIndex < batch.Count)
            {
                object o = batch[_undeliveredIndex++];
                if (o is ItemOutcome<TIn, TOut> outcome)
                {
                    DeliverOutcome(outcome);
                }
                else
                {
                    _sink.OnRecord((WorkerRecord<TIn>)o);
                }
            }

            batch.Clear();
            _undelivered = null;
            _spareOutbox = batch;
        }

        private void DeliverOutcome(ItemOutcome<TIn, TOut> outcome)
        {
            if (_window is null)
            {
                _delivered++;
                _sink.OnOutcome(outcome);
                return;
            }

            Debug.Assert(outcome.Sequence >= _nextToDeliver && outcome.Sequence < _nextToDeliver + _reorderWindow, "the reorder window bounds what is in flight");
            _window[outcome.Sequence % _reorderWindow] = outcome;
            while (true)
            {
                int at = (int)(_nextToDeliver % _reorderWindow);
                ItemOutcome<TIn, TOut>? next = _window[at];
                if (next is null) return;
                _window[at] = null;
                _nextToDeliver++;
                _delivered++;
                _sink.OnOutcome(next);
            }
        }
    }
}
