using System;
using System.Collections.Generic;

namespace ParallelMap.Engine
{
    /// <summary>
    /// What a worker sees of the item it is processing. One instance per worker, reused across
    /// items; valid only inside <see cref="Worker{TIn, TOut}.Process"/>.
    /// </summary>
    /// <typeparam name="TOut">The output type.</typeparam>
    public sealed class ItemContext<TOut>
    {
        private readonly IRecordPublisher _publisher;
        private TOut _single = default!;
        private List<TOut>? _many;
        private int _count;
        private bool _mayStream;

        internal ItemContext(IRecordPublisher publisher) => _publisher = publisher;

        /// <summary>The item's sequence number.</summary>
        public long Sequence { get; private set; }

        /// <summary>The attempt, from 1.</summary>
        public int Attempt { get; private set; }

        /// <summary>The error set by <see cref="Fail"/>, if any.</summary>
        public Exception? FailedWith { get; private set; }

        /// <summary>
        /// A value the worker attaches to this attempt's outcome, computed on the worker's thread
        /// (for example its outputs serialized, so the caller's thread does not have to).
        /// </summary>
        public object? Attachment { get; set; }

        /// <summary>How many outputs this attempt produced so far.</summary>
        public int OutputCount => _count;

        /// <summary>Adds an output of this item.</summary>
        /// <param name="value">The output.</param>
        public void Output(TOut value)
        {
            if (_count == 0)
            {
                _single = value;
            }
            else
            {
                if (_many is null)
                {
                    _many = new List<TOut>(4) { _single };
                }

                _many.Add(value);
            }

            _count++;
        }

        /// <summary>Emits a side record now; the caller gets it before this item's outcome.</summary>
        /// <param name="record">The record.</param>
        public void Record(object record)
        {
            if (record is null) throw new ArgumentNullException(nameof(record));
            _publisher.PublishItemRecord(record);
        }

        /// <summary>How many outputs this attempt passed on through <see cref="Stream"/>.</summary>
        public long StreamedCount { get; private set; }

        /// <summary>
        /// Whether this attempt may pass its outputs on now (<see cref="Stream"/>), given how many it
        /// holds. In an unordered run, always. In an ordered run, once the item has its turn (every
        /// earlier item's outcome is published, so nothing it passes on overtakes them); before its
        /// turn, false while it holds fewer than the engine's hold limit, and beyond that the call
        /// waits for the turn, so a big item never holds more than about that many outputs. The
        /// wait ends false (hold on) when the run stops, the attempt is ended (timeout), or the
        /// item whose turn it is runs on no worker (waiting for a retry or for a free worker: every
        /// worker could be one that waits). Time spent waiting does not count toward the item's
        /// timeout. Cheap enough to call every few hundred outputs.
        /// </summary>
        /// <param name="held">How many outputs the worker holds for this attempt now.</param>
        /// <returns>True when <see cref="Stream"/> may be called for the rest of this attempt.</returns>
        public bool MayStream(int held)
        {
            if (_mayStream) return true;
            _mayStream = _publisher.MayStream(held);
            return _mayStream;
        }

        /// <summary>
        /// Passes outputs on now, before the item ends, as an <see cref="ItemOutputs{TOut}"/> side
        /// record; blocks while the caller's outbox is full (the same backpressure as outcomes).
        /// Allowed once <see cref="MayStream"/> said so in this attempt. An attempt that streamed is
        /// never retried: what it passed on cannot be taken back, and a second attempt would pass
        /// it on twice.
        /// </summary>
        /// <param name="outputs">The outputs; the context keeps no reference to the list.</param>
        public void Stream(IReadOnlyList<TOut> outputs)
        {
            if (outputs is null) throw new ArgumentNullException(nameof(outputs));
            if (!_mayStream) throw new InvalidOperationException(Messages.StreamNotAllowed);
            if (outputs.Count == 0) return;
            StreamedCount += outputs.Count;
            _publisher.PublishItemRecord(new ItemOutputs<TOut>(outputs));
        }

        /// <summary>Marks the attempt failed without throwing; processing may go on (like a non-terminating error).</summary>
        /// <param name="error">The error; the first one is kept.</param>
        public void Fail(Exception error)
        {
            if (error is null) throw new ArgumentNullException(nameof(error));
            FailedWith ??= error;
        }

        internal void Reset(long sequence, int attempt)
        {
            Sequence = sequence;
            Attempt = attempt;
            FailedWith = null;
            Attachment = null;
            StreamedCount = 0;
            _mayStream = false;
            _single = default!;
            _many = null;
            _count = 0;
        }

        internal IReadOnlyList<TOut> TakeOutputs()
        {
            IReadOnlyList<TOut> result = _count switch
            {
                0 => Array.Empty<TOut>(),
                1 => new[] { _single },
                _ => _many!,
            };
            _single = default!;
            _many = null;
            _count = 0;
            return result;
        }
    }
}
