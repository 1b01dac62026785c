using System.Collections.Generic;
using System.IO;
using System.Text;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>
    /// The store's own chunk format (docs/checkpoint-format.md, "Chunk files"): the signature
    /// "PMCHUNK1", an entry count, then per entry the key, the payload and a CRC-32 of both, all
    /// lengths little-endian 32-bit.
    /// </summary>
    internal static class ChunkFile
    {
        internal static readonly byte[] Signature = Encoding.ASCII.GetBytes("PMCHUNK1");

        internal const int HeaderSize = 12;

        /// <summary>
        /// Writes a whole chunk to <paramref name="path"/> (which must not exist) and fsyncs it. An
        /// entry whose <paramref name="spills"/> element is set takes its payload from that file,
        /// copied a block at a time, so a spilled result is never in memory whole.
        /// </summary>
        public static void Write(string path, IReadOnlyList<string> keys, IReadOnlyList<byte[]> payloads, IReadOnlyList<ResultSpill?>? spills = null)
        {
            var word = new byte[4];
            using (var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                fs.Write(Signature, 0, Signature.Length);
                PutInt(word, keys.Count);
                fs.Write(word, 0, 4);
                for (int i = 0; i < keys.Count; i++)
                {
                    byte[] key = DurableIo.StrictUtf8.GetBytes(keys[i]);
                    byte[] payload = payloads[i];
                    ResultSpill? spill = spills?[i];
                    PutInt(word, key.Length);
                    uint crc = Crc32.Compute(word, 0, 4);
                    fs.Write(word, 0, 4);
                    crc = Crc32.Append(crc, key, 0, key.Length);
                    fs.Write(key, 0, key.Length);
                    PutInt(word, spill is null ? payload.Length : (int)spill.Length);
                    crc = Crc32.Append(crc, word, 0, 4);
                    fs.Write(word, 0, 4);
                    if (spill is null)
                    {
                        crc = Crc32.Append(crc, payload, 0, payload.Length);
                        fs.Write(payload, 0, payload.Length);
                    }
                    else
                    {
                        crc = CopySpill(spill, fs, crc);
                    }

                    PutInt(word, unchecked((int)crc));
                    fs.Write(word, 0, 4);
                }

                DurableIo.SyncFile(fs);
            }
        }

        /// <summary>Copies a spill's bytes into the chunk, adding them to the entry's CRC; its length must be what was written.</summary>
        private static uint CopySpill(ResultSpill spill, Stream to, uint crc)
        {
            var block = new byte[1 << 16];
            long copied = 0;
            using (var from = new FileStream(spill.FilePath, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1))
            {
                int n;
                while ((n = from.Read(block, 0, block.Length)) > 0)
                {
                    if (copied + n > spill.Length) break;
                    crc = Crc32.Append(crc, block, 0, n);
                    to.Write(block, 0, n);
                    copied += n;
                }
            }

            if (copied != spill.Length)
            {
                throw new IOException(EngineText.Format(CheckpointMessages.SpillChanged, spill.FilePath, copied, spill.Length));
            }

            return crc;
        }

        internal static void PutInt(byte[] b, int v)
        {
            b[0] = (byte)v;
            b[1] = (byte)(v >> 8);
            b[2] = (byte)(v >> 16);
            b[3] = (byte)(v >> 24);
        }

        internal static int GetInt(byte[] b, int at) => b[at] | b[at + 1] << 8 | b[at + 2] << 16 | b[at + 3] << 24;
    }
}
