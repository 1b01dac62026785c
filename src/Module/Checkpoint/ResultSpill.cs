using System;
using System.IO;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>
    /// One key's result payload written to a file as it is made, from <see cref="CheckpointSession.CreateSpill"/>,
    /// so that a key with a very large result is never held in memory whole: the worker appends
    /// the serialized outputs while the item runs, and <see cref="CheckpointSession.RecordResult(string, ResultSpill)"/>
    /// hands the file to the session, whose chunk save copies it into the chunk a block at a time.
    /// </summary>
    /// <remarks>
    /// A spill is its writer's alone until recorded (one thread, no lock). Disposing one that was
    /// never recorded deletes its file (a failed or stopped item). The file is a temporary of the
    /// chunks folder (<c>*.spill.tmp</c>): what a crash leaves is deleted when the checkpoint is next
    /// opened for writing, and what a failed save leaves, when the session is disposed.
    /// </remarks>
    public sealed class ResultSpill : IDisposable
    {
        /// <summary>A payload's length is a 32-bit field of the chunk format.</summary>
        internal const long MaxLength = int.MaxValue;

        private FileStream? _stream;
        private bool _recorded;

        internal ResultSpill(string path)
        {
            FilePath = path;
            _stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read | FileShare.Delete, 1 << 16);
        }

        /// <summary>The spill's file.</summary>
        public string FilePath { get; }

        /// <summary>The bytes written so far.</summary>
        public long Length { get; private set; }

        /// <summary>Appends payload bytes.</summary>
        /// <exception cref="InvalidOperationException">The payload would pass 2 GiB, the most a chunk entry can hold.</exception>
        public void Write(byte[] buffer, int offset, int count)
        {
            if (_stream is null) throw new ObjectDisposedException(nameof(ResultSpill));
            if (Length + count > MaxLength)
            {
                throw new InvalidOperationException(EngineText.Format(CheckpointMessages.ResultTooLarge, MaxLength));
            }

            _stream.Write(buffer, offset, count);
            Length += count;
        }

        /// <summary>Closes the file for recording: from now on the session owns it.</summary>
        internal void Seal()
        {
            if (_stream is null) throw new ObjectDisposedException(nameof(ResultSpill));
            _stream.Dispose();
            _stream = null;
            _recorded = true;
        }

        /// <summary>Deletes the file once its chunk is durable (session, after the save).</summary>
        internal void Delete() => DurableIo.TryDelete(FilePath);

        /// <summary>Closes the file and, unless it was recorded, deletes it.</summary>
        public void Dispose()
        {
            _stream?.Dispose();
            _stream = null;
            if (!_recorded) Delete();
        }
    }
}
