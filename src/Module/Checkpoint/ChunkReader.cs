using System;
using System.IO;
using System.Text;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>Reads a chunk file entry by entry, checking each entry it returns; never more than one payload in memory.</summary>
    internal sealed class ChunkReader : IDisposable
    {
        private readonly FileStream _file;

        private readonly byte[] _word = new byte[8];

        private readonly long _length;

        private ChunkReader(string path, FileStream file)
        {
            Path = path;
            _file = file;
            _length = file.Length;
        }

        public string Path { get; }

        /// <summary>Entries in the chunk, from its header.</summary>
        public int Count { get; private set; }

        /// <summary>The index of the next entry.</summary>
        public int Position { get; private set; }

        public static ChunkReader Open(string path)
        {
            FileStream fs;
            try
            {
                fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16, FileOptions.SequentialScan);
            }
            catch (Exception e) when (e is FileNotFoundException || e is DirectoryNotFoundException)
            {
                // A missing chunks folder is the same damage as a missing chunk: the journal names a file that is gone.
                throw CheckpointException.Corrupt(path, 0, EngineText.Format(CheckpointMessages.ChunkMissing, path));
            }

            var reader = new ChunkReader(path, fs);
            try
            {
                var header = new byte[ChunkFile.HeaderSize];
                if (!reader.TryReadExactly(header, 0, header.Length))
                {
                    throw reader.Damage(0, CheckpointMessages.ChunkTruncated);
                }

                for (int i = 0; i < ChunkFile.Signature.Length; i++)
                {
                    if (header[i] != ChunkFile.Signature[i])
                    {
                        throw reader.Damage(0, CheckpointMessages.ChunkBadMagic);
                    }
                }

                int count = ChunkFile.GetInt(header, 8);
                if (count < 0)
                {
                    throw reader.Damage(8, CheckpointMessages.ChunkBadLength);
                }

                reader.Count = count;
                return reader;
            }
            catch
            {
                reader.Dispose();
                throw;
            }
        }

        /// <summary>
        /// Checks a chunk's structure without reading its payloads: the file exists, starts with the
        /// signature, its header's entry count is <paramref name="expectedCount"/> (the count of the C
        /// record that names it), and the entries' lengths lead exactly to the end of the file. That
        /// catches a missing, truncated, extended or swapped chunk and a damaged length or header;
        /// a changed byte inside a key or payload is caught only by its CRC, when the entry is read.
        /// Cost: one open and two 4-byte length reads per entry (seeks past the payloads).
        /// </summary>
        public static void VerifyStructure(string path, int expectedCount)
        {
            using (ChunkReader reader = Open(path))
            {
                if (reader.Count != expectedCount)
                {
                    throw reader.Damage(8, EngineText.Format(CheckpointMessages.ChunkCountMismatch, reader.Count, expectedCount));
                }

                while (reader.Position < reader.Count)
                {
                    reader.Skip();
                }

                long end = reader._file.Position;
                if (end != reader._length)
                {
                    throw reader.Damage(end, EngineText.Format(CheckpointMessages.ChunkTrailingBytes, reader._length - end));
                }
            }
        }

        /// <summary>Skips the next entry without reading its payload.</summary>
        public void Skip()
        {
            long at = _file.Position;
            int keyLength = ReadLength(at);
            _file.Seek(keyLength, SeekOrigin.Current);
            int payloadLength = ReadLength(at);
            if (_file.Position + payloadLength + 4 > _length)
            {
                throw Damage(at, CheckpointMessages.ChunkTruncated);
            }

            _file.Seek(payloadLength + 4L, SeekOrigin.Current);
            Position++;
        }

        /// <summary>Reads and checks the next entry.</summary>
        public void Read(out string key, out byte[] payload)
        {
            long at = _file.Position;
            int keyLength = ReadLength(at);
            var keyBytes = new byte[keyLength];
            if (!TryReadExactly(keyBytes, 0, keyLength))
            {
                throw Damage(at, CheckpointMessages.ChunkTruncated);
            }

            int payloadLength = ReadLength(at);
            payload = new byte[payloadLength];
            if (!TryReadExactly(payload, 0, payloadLength) || !TryReadExactly(_word, 4, 4))
            {
                throw Damage(at, CheckpointMessages.ChunkTruncated);
            }

            ChunkFile.PutInt(_word, keyLength);
            uint crc = Crc32.Compute(_word, 0, 4);
            crc = Crc32.Append(crc, keyBytes, 0, keyLength);
            ChunkFile.PutInt(_word, payloadLength);
            crc = Crc32.Append(crc, _word, 0, 4);
            crc = Crc32.Append(crc, payload, 0, payloadLength);
            ChunkFile.PutInt(_word, unchecked((int)crc));
            for (int i = 0; i < 4; i++)
            {
                if (_word[i] != _word[4 + i])
                {
                    throw Damage(at, CheckpointMessages.ChunkChecksum);
                }
            }

            try
            {
                key = DurableIo.StrictUtf8.GetString(keyBytes);
            }
            catch (DecoderFallbackException)
            {
                throw Damage(at, CheckpointMessages.JournalBadUtf8);
            }

            Position++;
        }

        public void Dispose() => _file.Dispose();

        internal CheckpointException Damage(long offset, string problem)
            => CheckpointException.Corrupt(Path, offset, EngineText.Format(CheckpointMessages.ChunkDamaged, Path, offset, problem));

        private int ReadLength(long entryOffset)
        {
            if (!TryReadExactly(_word, 0, 4))
            {
                throw Damage(entryOffset, CheckpointMessages.ChunkTruncated);
            }

            int n = ChunkFile.GetInt(_word, 0);
            if (n < 0 || _file.Position + n > _length)
            {
                throw Damage(entryOffset, CheckpointMessages.ChunkBadLength);
            }

            return n;
        }

        private bool TryReadExactly(byte[] target, int offset, int count)
        {
            while (count > 0)
            {
                int got = _file.Read(target, offset, count);
                if (got <= 0)
                {
                    return false;
                }

                offset += got;
                count -= got;
            }

            return true;
        }
    }
}
