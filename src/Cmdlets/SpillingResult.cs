using System;
using System.Collections.Generic;
using System.IO;
using ParallelMap.Engine.Checkpoint;

namespace ParallelMap.Commands
{
    /// <summary>
    /// A resumable batch item's result as the item writes it, on the worker's thread: its outputs
    /// are serialized a thousand at a time into CliXml documents, and once those pass a megabyte
    /// they go to a spill file of the checkpoint (<see cref="ResultSpill"/>), so a key that
    /// returns a million objects holds a few thousand at most, never all of them, alive or as
    /// bytes. A result that stays small is serialized whole at the end, exactly as before (one
    /// document, the fast path for a single string or number).
    /// </summary>
    /// <remarks>
    /// Used only when nothing needs the live objects after the item: not with -PassThru (which
    /// passes them on once recorded) nor -SaveScript (which is handed them). One item at a time,
    /// one thread; <see cref="Dispose"/> deletes the spill of an item that did not succeed.
    /// </remarks>
    internal sealed class SpillingResult : IDisposable
    {
        /// <summary>Outputs per document: enough to amortize the serializer's set-up, few enough to hold.</summary>
        internal const int ObjectsPerDocument = 1000;

        /// <summary>Serialized bytes held before they go to the spill file.</summary>
        internal const int MemoryLimit = 1 << 20;

        private readonly int _depth;
        private readonly Func<ResultSpill> _newSpill;
        private readonly List<object?> _pending = new List<object?>();
        private MemoryStream? _documents;
        private ResultSpill? _spill;

        internal SpillingResult(int depth, Func<ResultSpill> newSpill)
        {
            _depth = depth;
            _newSpill = newSpill;
        }

        /// <summary>Adds one output of the running item.</summary>
        internal void Add(object? value)
        {
            _pending.Add(value);
            if (_pending.Count >= ObjectsPerDocument) SerializePending();
        }

        /// <summary>
        /// The item's whole result, to attach to its outcome: the payload bytes, or the spill
        /// (then the caller's to record or dispose). Makes this ready for the next item.
        /// </summary>
        internal object Finish()
        {
            if (_documents is null && _spill is null)
            {
                byte[] whole = ResultSerializer.Serialize(_pending.ToArray(), _depth);
                _pending.Clear();
                return whole;
            }

            if (_pending.Count > 0) SerializePending();
            if (_spill is null)
            {
                byte[] bytes = _documents!.ToArray();
                _documents = null;
                return bytes;
            }

            SpillDocuments();
            ResultSpill spill = _spill;
            _spill = null;
            _documents = null;
            return spill;
        }

        /// <summary>Drops the current item's result (it failed or was stopped), deleting its spill.</summary>
        public void Dispose()
        {
            _pending.Clear();
            _documents = null;
            _spill?.Dispose();
            _spill = null;
        }

        private void SerializePending()
        {
            byte[] document = ResultSerializer.Serialize(_pending.ToArray(), _depth);
            _pending.Clear();
            _documents ??= new MemoryStream();
            _documents.Write(document, 0, document.Length);
            if (_documents.Length >= MemoryLimit) SpillDocuments();
        }

        private void SpillDocuments()
        {
            _spill ??= _newSpill();
            _spill.Write(_documents!.GetBuffer(), 0, (int)_documents.Length);
            _documents.SetLength(0);
        }
    }
}
