using System;
using System.Globalization;
using System.IO;
using System.Text;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>
    /// Appends journal records (docs/checkpoint-format.md, "Journal"): one line per record,
    /// <c>crc TAB type (TAB field)* LF</c>, built straight into one reusable byte buffer so a record
    /// costs no allocation for an ordinary key. Nothing reaches the file until <see cref="Write"/>
    /// (or the buffer passes <see cref="WriteThreshold"/>), and nothing is durable until <see cref="Sync"/>.
    /// </summary>
    internal sealed class JournalWriter : IDisposable
    {
        internal const int CurrentVersion = 1;

        /// <summary>Buffered bytes past which a record is written out at once, bounding the buffer.</summary>
        internal const int WriteThreshold = 64 * 1024;

        private static readonly byte[] HexDigits = Encoding.ASCII.GetBytes("0123456789abcdef");

        /// <summary>Error texts are informational: a lone surrogate in one becomes U+FFFD rather than failing the record.</summary>
        private static readonly UTF8Encoding LenientUtf8 = new UTF8Encoding(false, false);

        /// <summary>The journal, opened for append; never truncated after open.</summary>
        private readonly FileStream? _file;

        /// <summary>Records built but not yet written; [0, length) is complete records only.</summary>
        private byte[] _buffer = new byte[WriteThreshold * 2];

        private int _length;

        /// <summary>Where the record being built starts in <see cref="_buffer"/>.</summary>
        private int _recordStart;

        /// <summary>Serializes the file's writes and fsyncs (the record buffer is the caller's to guard).</summary>
        private readonly object _ioGate = new object();

        /// <summary>Bytes have been written to the file since its last fsync.</summary>
        private volatile bool _unsynced;

        private JournalWriter(string path, FileStream? file)
        {
            Path = path;
            _file = file;
        }

        public string Path { get; }

        /// <summary>Whether anything appended is not yet fsynced.</summary>
        public bool HasUnsynced => _length > 0 || _unsynced;

        /// <summary>
        /// Opens the journal for append. Bytes past <paramref name="validLength"/> (a torn last record,
        /// which replay already dropped) are cut off and the cut is fsynced before anything is
        /// appended, so a torn record can never end up in the middle of the journal. A journal
        /// with no valid record gets its header.
        /// </summary>
        public static JournalWriter OpenAppend(string path, long validLength)
        {
            var fs = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.Read | FileShare.Delete, 1);
            try
            {
                if (fs.Length != validLength)
                {
                    fs.SetLength(validLength);
                    DurableIo.SyncFile(fs);
                }

                fs.Seek(0, SeekOrigin.End);
                var writer = new JournalWriter(path, fs);
                if (validLength == 0)
                {
                    writer.AppendHeader();
                    writer.Sync();
                }

                return writer;
            }
            catch
            {
                fs.Dispose();
                throw;
            }
        }

        /// <summary>The bytes of a new journal: its header record.</summary>
        public static byte[] NewJournalContent()
        {
            var w = new JournalWriter(string.Empty, null);
            w.AppendHeader();
            var bytes = new byte[w._length];
            Buffer.BlockCopy(w._buffer, 0, bytes, 0, w._length);
            return bytes;
        }

        public void AppendHeader()
        {
            Begin((byte)'H');
            Number(CurrentVersion);
            End();
        }

        public void AppendRun(string runId, string host, int pid, DateTime startedUtc)
        {
            Begin((byte)'R');
            Text(runId, strict: false);
            Text(host, strict: false);
            Number(pid);
            Text(startedUtc.ToString("o", CultureInfo.InvariantCulture), strict: false);
            End();
        }

        /// <summary>Appends "S key". Throws <see cref="ArgumentException"/> (appending nothing) for a key that is not valid Unicode.</summary>
        public void AppendSubmitted(string key)
        {
            Begin((byte)'S');
            Text(key, strict: true);
            End();
        }

        public void AppendChunk(long chunk, int count, bool savedByHook)
        {
            Begin((byte)'C');
            Number(chunk);
            Number(count);
            Text(savedByHook ? JournalReader.SaverHook : JournalReader.SaverDefault, strict: false);
            End();
        }

        public void AppendDone(long chunk, int index, string key)
        {
            Begin((byte)'D');
            Number(chunk);
            Number(index);
            Text(key, strict: true);
            End();
        }

        public void AppendFailure(int attempts, string key, string errorText)
        {
            Begin((byte)'F');
            Number(attempts);
            Text(key, strict: true);
            Text(errorText, strict: false);
            End();
        }

        public void AppendEnd(string runId)
        {
            Begin((byte)'E');
            Text(runId, strict: false);
            End();
        }

        /// <summary>Writes the buffered records to the file (into the OS cache; no fsync).</summary>
        public void Write()
        {
            if (_length == 0)
            {
                return;
            }

            lock (_ioGate)
            {
                // Cleared first: after a failed write the session is faulted and must not write these again.
                int n = _length;
                _length = 0;
                _unsynced = true;
                _file!.Write(_buffer, 0, n);
            }
        }

        public void Sync()
        {
            Write();
            FlushToDisk();
        }

        /// <summary>
        /// Fsyncs what <see cref="Write"/> wrote, without touching the record buffer: a background
        /// saver calls it without the session's gate while the caller keeps appending records.
        /// </summary>
        public void FlushToDisk()
        {
            lock (_ioGate)
            {
                if (_unsynced)
                {
                    DurableIo.SyncFile(_file!);
                    _unsynced = false;
                }
            }
        }

        public void Dispose() => _file?.Dispose();

        private void Begin(byte type)
        {
            Ensure(16);
            _recordStart = _length;
            _length += 9; // eight hex digits of CRC and a TAB, filled in by End
            _buffer[_length++] = type;
        }

        private void End()
        {
            int bodyStart = _recordStart + 9;
            uint crc = Crc32.Compute(_buffer, bodyStart, _length - bodyStart);
            for (int i = 7; i >= 0; i--)
            {
                _buffer[_recordStart + i] = HexDigits[crc & 0xF];
                crc >>= 4;
            }

            _buffer[_recordStart + 8] = (byte)'\t';
            Ensure(1);
            _buffer[_length++] = (byte)'\n';
            if (_length >= WriteThreshold && _file != null)
            {
                Write();
            }
        }

        private void Number(long value)
        {
            Ensure(21);
            _buffer[_length++] = (byte)'\t';
            if (value == 0)
            {
                _buffer[_length++] = (byte)'0';
                return;
            }

            int start = _length;
            while (value > 0)
            {
                _buffer[_length++] = (byte)('0' + (value % 10));
                value /= 10;
            }

            Array.Reverse(_buffer, start, _length - start);
        }

        private void Text(string value, bool strict)
        {
            Ensure(1);
            _buffer[_length++] = (byte)'\t';
            string text = NeedsEscape(value) ? Escape(value) : value;
            Encoding encoding = strict ? DurableIo.StrictUtf8 : LenientUtf8;
            Ensure((text.Length + 1) * 3);
            try
            {
                _length += encoding.GetBytes(text, 0, text.Length, _buffer, _length);
            }
            catch (EncoderFallbackException e)
            {
                _length = _recordStart; // drop the half-built record
                throw new ArgumentException(CheckpointMessages.InvalidKey, "key", e);
            }
        }

        private static bool NeedsEscape(string s)
        {
            foreach (char ch in s)
            {
                if (ch == '\\' || ch == '\t' || ch == '\n' || ch == '\r')
                {
                    return true;
                }
            }

            return false;
        }

        private static string Escape(string s)
        {
            var sb = new StringBuilder(s.Length + 8);
            foreach (char ch in s)
            {
                switch (ch)
                {
                    case '\\': sb.Append("\\\\"); break;
                    case '\t': sb.Append("\\t"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    default: sb.Append(ch); break;
                }
            }

            return sb.ToString();
        }

        private void Ensure(int more)
        {
            if (_length + more > _buffer.Length)
            {
                Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + more));
            }
        }
    }
}
