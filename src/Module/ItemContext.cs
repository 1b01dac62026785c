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
