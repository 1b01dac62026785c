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

        /// <summary>
        /// True when this run lets an item pass outputs on before it ends (<see cref="Stream"/>):
        /// in unordered runs only, since in an ordered run they would overtake earlier items.
        /// </summary>
        public bool CanStream { get; internal set; }

        /// <summary>How many outputs this attempt passed on through <see cref="Stream"/>.</summary>
        public long StreamedCount { get; private set; }

        /// <summary>
        /// Passes outputs on now, before the item ends, as an <see cref="ItemOutputs{TOut}"/> side
        /// record; blocks while the caller's outbox is full (the same backpressure as outcomes).
        /// An attempt that streamed is never retried: what it passed on cannot be taken back, and a
        /// second attempt would pass it on twice.
        /// </summary>
        /// <param name="outputs">The outputs; the context keeps no reference to the list.</param>
        public void Stream(IReadOnlyList<TOut> outputs)
        {
            if (outputs is null) throw new ArgumentNullException(nameof(outputs));
            if (!CanStream) throw new InvalidOperationException(Messages.StreamNotAllowed);
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
