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

        /// <summary>Writes a whole chunk to <paramref name="path"/> (which must not exist) and fsyncs it.</summary>
        public static void Write(string path, IReadOnlyList<string> keys, IReadOnlyList<byte[]> payloads)
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
                    PutInt(word, key.Length);
                    uint crc = Crc32.Compute(word, 0, 4);
                    fs.Write(word, 0, 4);
                    crc = Crc32.Append(crc, key, 0, key.Length);
                    fs.Write(key, 0, key.Length);
                    PutInt(word, payload.Length);
                    crc = Crc32.Append(crc, word, 0, 4);
                    fs.Write(word, 0, 4);
                    crc = Crc32.Append(crc, payload, 0, payload.Length);
                    fs.Write(payload, 0, payload.Length);
                    PutInt(word, unchecked((int)crc));
                    fs.Write(word, 0, 4);
                }

                DurableIo.SyncFile(fs);
            }
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
