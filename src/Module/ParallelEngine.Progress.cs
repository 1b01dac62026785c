using System;
using System.Threading;

namespace ParallelMap.Engine
{
    // Progress counters: counted as outcomes enter the outbox, read as a snapshot.
    public sealed partial class ParallelEngine<TIn, TOut>
    {
        /// <summary>A snapshot of the counters.</summary>
        /// <returns>The snapshot.</returns>
        public EngineProgress GetProgress()
        {
            long submitted = Volatile.Read(ref _submitted);
            long completed, succeeded, failed, timedOut, cancelled, notRun;
            bool inputCompleted;
            int workers, running = 0;
            lock (_lock)
            {
                // Take what workers buffered, so the counts are current.
                CollectPendingLocked();
                completed = _completed;
                succeeded = _succeeded;
                failed = _failed;
                timedOut = _timedOut;
                cancelled = _cancelled;
                notRun = _notRun;
                inputCompleted = _inputCompleted;
                workers = _live.Count;
                foreach (var slot in _live)
                {
                    if (Volatile.Read(ref slot.Current) is not null) running++;
                }
            }

            TimeSpan elapsed = _clock.Elapsed;
            double rate = _rate.Sample(elapsed.TotalSeconds, completed);
            long? total = inputCompleted ? submitted : _options.TotalHint is long hint ? Math.Max(hint, submitted) : (long?)null;
            return new EngineProgress(submitted, completed, succeeded, failed, timedOut, cancelled, notRun, running, Interlocked.Read(ref _retries), workers, elapsed, rate, total, inputCompleted);
        }

        /// <summary>Adds an outcome or record to the outbox, counting final outcomes (lock held).</summary>
        private void AddToOutboxLocked(object o)
        {
            if (o is WorkerRecord<TIn> { Record: ItemOutputs<TOut> streamed }) _outboxStreamed += streamed.Values.Count;
            if (o is ItemOutcome<TIn, TOut> outcome)
            {
                PassTurnLocked(outcome.Sequence);
                _completed++;
                switch (outcome.Status)
                {
                    case ItemStatus.Succeeded: _succeeded++; break;
                    case ItemStatus.Failed: _failed++; break;
                    case ItemStatus.TimedOut: _failed++; _timedOut++; break;
                    case ItemStatus.Cancelled: _cancelled++; break;
                    case ItemStatus.NotRun: _notRun++; break;
                }
            }

            _outbox.Add(o);
        }
    }
}
