using System;
using System.IO;
using System.Text;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>
    /// Reads the journal forward, checking every record (docs/checkpoint-format.md, "Reading the
    /// journal"). The rule for damage: the last record of the file may be torn (no LF after it, or it
    /// fails its checksum and is the file's last line); it is reported by <see cref="HasTornTail"/>
    /// and not returned. Any other bad record throws <see cref="CheckpointErrorIds.CheckpointCorrupt"/>
    /// naming the file and the record's offset. Reading never changes the file.
    /// </summary>
    internal sealed class JournalReader : IDisposable
    {
        internal const string SaverDefault = "default";
        internal const string SaverHook = "hook";

        private readonly FileStream _file;

        /// <summary>The file's length when opened: a writer may append meanwhile, and we read a consistent prefix.</summary>
        private readonly long _fileLength;

        private readonly bool _decodeText;

        private byte[] _buffer = new byte[1 << 20];

        /// <summary>[pos, end) of <see cref="_buffer"/> holds unread bytes; buffer[0] is at file offset <see cref="_bufferBase"/>.</summary>
        private int _pos;

        private int _end;

        private long _bufferBase;

        /// <summary>File bytes read into the buffer so far.</summary>
        private long _readTotal;

        private byte[] _scratch = new byte[256];

        private long _records;

        /// <summary>The C record being followed by D records: its number, count and saver.</summary>
        private long _currentChunk = -1;

        private int _currentCount;

        private bool _currentHook;

        private long _maxChunk;

        public JournalReader(string path, bool decodeText)
        {
            Path = path;
            _decodeText = decodeText;
            _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.SequentialScan);
            _fileLength = _file.Length;
        }

        public string Path { get; }

        /// <summary>The end of the last good record: where a writer appends (cutting a torn tail off).</summary>
        public long ValidLength { get; private set; }

        /// <summary>Whether the file ends in a torn record, which is dropped.</summary>
        public bool HasTornTail { get; private set; }

        /// <summary>The highest chunk number in a C record so far.</summary>
        public long MaxChunk => _maxChunk;

        public void Dispose() => _file.Dispose();

        /// <summary>Reads the next good record into <paramref name="record"/>; false at the end (or at a torn tail).</summary>
        public bool Read(JournalRecord record)
        {
            while (true)
            {
                int lf = _end > _pos ? Array.IndexOf(_buffer, (byte)'\n', _pos, _end - _pos) : -1;
                if (lf < 0)
                {
                    if (_readTotal >= _fileLength)
                    {
                        if (_end > _pos)
                        {
                            HasTornTail = true; // no LF after the last bytes: a record whose write was cut short
                        }

                        return false;
                    }

                    Fill();
                    continue;
                }

                long offset = _bufferBase + _pos;
                long next = offset + (lf - _pos) + 1;
                string? problem = Parse(_pos, lf, record);
                if (problem != null)
                {
                    if (next == _fileLength)
                    {
                        // The file's last line is bad: a torn write (for example the file was
                        // extended but the data never reached the disk). It is dropped like an unterminated one.
                        HasTornTail = true;
                        _pos = _end;
                        return false;
                    }

                    throw Damage(offset, problem);
                }

                record.Offset = offset;
                _pos = lf + 1;
                ValidLength = next;
                _records++;
                Check(record);
                return true;
            }
        }

        private void Check(JournalRecord r)
        {
            if (_records == 1)
            {
                if (r.Type != (byte)'H')
                {
                    throw Damage(r.Offset, CheckpointMessages.JournalNoHeader);
                }

                if (r.Number != JournalWriter.CurrentVersion)
                {
                    throw new CheckpointException(
                        CheckpointErrorIds.CheckpointVersionUnsupported,
                        EngineText.Format(CheckpointMessages.JournalVersionUnsupported, Path, r.Number, JournalWriter.CurrentVersion),
                        Path);
                }

                return;
            }

            switch (r.Type)
            {
                case (byte)'H':
                    throw Damage(r.Offset, CheckpointMessages.JournalNoHeader);
                case (byte)'C':
                    // Chunk numbers only grow: a run never reuses a name, which is what keeps a
                    // chunk written but never journaled from being overwritten or misread.
                    if (r.Chunk <= _maxChunk)
                    {
                        throw Damage(r.Offset, EngineText.Format(CheckpointMessages.JournalChunkNotIncreasing, r.Chunk, _maxChunk));
                    }

                    _maxChunk = r.Chunk;
                    _currentChunk = r.Chunk;
                    _currentCount = r.Number;
                    _currentHook = r.SavedByHook;
                    break;
                case (byte)'D':
                    if (r.Chunk != _currentChunk)
                    {
                        throw Damage(r.Offset, EngineText.Format(CheckpointMessages.JournalDoneWithoutChunk, r.Chunk));
                    }

                    if (r.Index >= _currentCount)
                    {
                        throw Damage(r.Offset, EngineText.Format(CheckpointMessages.JournalBadIndex, r.Index, r.Chunk, _currentCount));
                    }

                    r.SavedByHook = _currentHook;
                    break;
                default:
                    // Any other record closes the group of D records that follows a C record: a
                    // commit is written as one C and its D records back to back.
                    _currentChunk = -1;
                    break;
            }
        }

        /// <summary>Parses the line [start, lf); returns null if good, else what is wrong.</summary>
        private string? Parse(int start, int lf, JournalRecord r)
        {
            int bodyStart = start + 9;
            if (lf - start < 10 || _buffer[start + 8] != (byte)'\t')
            {
                return ChecksumProblem;
            }

            uint stored = 0;
            for (int i = start; i < start + 8; i++)
            {
                int d = HexValue(_buffer[i]);
                if (d < 0)
                {
                    return ChecksumProblem;
                }

                stored = (stored << 4) | (uint)d;
            }

            if (Crc32.Compute(_buffer, bodyStart, lf - bodyStart) != stored)
            {
                return ChecksumProblem;
            }

            byte type = _buffer[bodyStart];
            r.Type = type;
            if (bodyStart + 1 < lf && _buffer[bodyStart + 1] != (byte)'\t')
            {
                return EngineText.Format(CheckpointMessages.JournalUnknownType, Encoding.ASCII.GetString(_buffer, bodyStart, Math.Min(8, lf - bodyStart)));
            }

            // Field boundaries: at most four fields in any record type.
            int f0 = bodyStart + 2, count = 0;
            int s1 = 0, e1 = 0, s2 = 0, e2 = 0, s3 = 0, e3 = 0, s4 = 0, e4 = 0;
            if (bodyStart + 1 < lf)
            {
                int fs = f0;
                for (int i = f0; i <= lf; i++)
                {
                    if (i == lf || _buffer[i] == (byte)'\t')
                    {
                        count++;
                        switch (count)
                        {
                            case 1: s1 = fs; e1 = i; break;
                            case 2: s2 = fs; e2 = i; break;
                            case 3: s3 = fs; e3 = i; break;
                            case 4: s4 = fs; e4 = i; break;
                        }

                        fs = i + 1;
                    }
                }
            }

            int expected;
            switch (type)
            {
                case (byte)'H': expected = 1; break;
                case (byte)'R': expected = 4; break;
                case (byte)'S': expected = 1; break;
                case (byte)'C': expected = 3; break;
                case (byte)'D': expected = 3; break;
                case (byte)'F': expected = 3; break;
                case (byte)'E': expected = 1; break;
                default:
                    return EngineText.Format(CheckpointMessages.JournalUnknownType, (char)type);
            }

            if (count != expected)
            {
                return EngineText.Format(CheckpointMessages.JournalBadFieldCount, (char)type, count, expected);
            }

            try
            {
                switch (type)
                {
                    case (byte)'H':
                        r.Number = (int)ParseNumber(s1, e1, int.MaxValue);
                        break;
                    case (byte)'R':
                        r.Text = DecodeText(s1, e1);
                        r.Key = DecodeText(s2, e2);
                        r.Number = (int)ParseNumber(s3, e3, int.MaxValue);
                        DecodeText(s4, e4);
                        break;
                    case (byte)'S':
                        r.Key = DecodeText(s1, e1);
                        break;
                    case (byte)'C':
                        r.Chunk = ParseNumber(s1, e1, long.MaxValue);
                        r.Number = (int)ParseNumber(s2, e2, CheckpointOptions.MaxChunkSize);
                        string saver = DecodeText(s3, e3);
                        if (saver != SaverDefault && saver != SaverHook)
                        {
                            return EngineText.Format(CheckpointMessages.JournalBadSaver, saver);
                        }

                        r.SavedByHook = saver == SaverHook;
                        break;
                    case (byte)'D':
                        r.Chunk = ParseNumber(s1, e1, long.MaxValue);
                        r.Index = (int)ParseNumber(s2, e2, CheckpointOptions.MaxChunkSize);
                        r.Key = DecodeText(s3, e3);
                        break;
                    case (byte)'F':
                        r.Number = (int)ParseNumber(s1, e1, int.MaxValue);
                        r.Key = DecodeText(s2, e2);
                        r.Text = _decodeText ? DecodeText(s3, e3) : string.Empty;
                        break;
                    case (byte)'E':
                        r.Text = DecodeText(s1, e1);
                        break;
                }
            }
            catch (FormatException e)
            {
                return e.Message;
            }
            catch (DecoderFallbackException)
            {
                return CheckpointMessages.JournalBadUtf8;
            }

            return null;
        }

        private const string ChecksumProblem = "the record fails its checksum";

        private long ParseNumber(int start, int stop, long max)
        {
            if (stop <= start || stop - start > 18)
            {
                throw new FormatException(CheckpointMessages.JournalBadNumber);
            }

            long n = 0;
            for (int i = start; i < stop; i++)
            {
                int d = _buffer[i] - '0';
                if (d < 0 || d > 9)
                {
                    throw new FormatException(CheckpointMessages.JournalBadNumber);
                }

                n = (n * 10) + d;
            }

            if (n > max)
            {
                throw new FormatException(CheckpointMessages.JournalBadNumber);
            }

            return n;
        }

        private string DecodeText(int start, int stop)
        {
            int len = stop - start;
            if (len == 0)
            {
                return string.Empty;
            }

            if (Array.IndexOf(_buffer, (byte)'\\', start, len) < 0)
            {
                return DurableIo.StrictUtf8.GetString(_buffer, start, len);
            }

            if (_scratch.Length < len)
            {
                _scratch = new byte[Math.Max(len, _scratch.Length * 2)];
            }

            int n = 0;
            for (int i = start; i < stop; i++)
            {
                byte b = _buffer[i];
                if (b != (byte)'\\')
                {
                    _scratch[n++] = b;
                    continue;
                }

                if (++i >= stop)
                {
                    throw new FormatException(CheckpointMessages.JournalBadEscape);
                }

                switch (_buffer[i])
                {
                    case (byte)'\\': _scratch[n++] = (byte)'\\'; break;
                    case (byte)'t': _scratch[n++] = (byte)'\t'; break;
                    case (byte)'n': _scratch[n++] = (byte)'\n'; break;
                    case (byte)'r': _scratch[n++] = (byte)'\r'; break;
                    default: throw new FormatException(CheckpointMessages.JournalBadEscape);
                }
            }

            return DurableIo.StrictUtf8.GetString(_scratch, 0, n);
        }

        private static int HexValue(byte b)
        {
            if (b >= '0' && b <= '9')
            {
                return b - '0';
            }

            if (b >= 'a' && b <= 'f')
            {
                return b - 'a' + 10;
            }

            if (b >= 'A' && b <= 'F')
            {
                return b - 'A' + 10;
            }

            return -1;
        }

        private void Fill()
        {
            if (_pos > 0)
            {
                // Keep the unfinished line, drop what was consumed.
                Buffer.BlockCopy(_buffer, _pos, _buffer, 0, _end - _pos);
                _bufferBase += _pos;
                _end -= _pos;
                _pos = 0;
            }

            if (_end == _buffer.Length)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2); // one line longer than the buffer (a long error text)
            }

            int want = (int)Math.Min(_buffer.Length - _end, _fileLength - _readTotal);
            int got = _file.Read(_buffer, _end, want);
            if (got <= 0)
            {
                _readTotal = _fileLength; // the file shrank under us: treat as its end
                return;
            }

            _end += got;
            _readTotal += got;
        }

        private CheckpointException Damage(long offset, string problem)
        {
            string message = problem == ChecksumProblem
                ? EngineText.Format(CheckpointMessages.JournalChecksum, Path, offset)
                : EngineText.Format(CheckpointMessages.JournalMalformed, Path, offset, problem);
            return CheckpointException.Corrupt(Path, offset, message);
        }
    }
}
