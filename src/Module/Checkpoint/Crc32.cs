namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>
    /// CRC-32 as in zlib, gzip and PNG (IEEE 802.3: reflected polynomial 0xEDB88320, initial value
    /// and final xor 0xFFFFFFFF; "123456789" gives 0xCBF43926). netstandard2.0 has no
    /// System.IO.Hashing and the engine takes no packages, so it is here, sliced by 8 bytes.
    /// </summary>
    internal static class Crc32
    {
        /// <summary>Eight 256-entry tables; table k gives the CRC of a byte followed by k zero bytes.</summary>
        private static readonly uint[] Table = BuildTable();

        /// <summary>The CRC-32 of <paramref name="count"/> bytes of <paramref name="data"/> from <paramref name="offset"/>.</summary>
        public static uint Compute(byte[] data, int offset, int count) => Append(0, data, offset, count);

        /// <summary>Continues a CRC-32 (as returned by <see cref="Compute"/>) over more bytes.</summary>
        public static uint Append(uint crc, byte[] data, int offset, int count)
        {
            uint[] t = Table;
            uint c = ~crc;
            int i = offset;
            while (count >= 8)
            {
                uint one = (uint)(data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24) ^ c;
                uint two = (uint)(data[i + 4] | data[i + 5] << 8 | data[i + 6] << 16 | data[i + 7] << 24);
                c = t[0x700 + (one & 0xFF)] ^ t[0x600 + ((one >> 8) & 0xFF)] ^ t[0x500 + ((one >> 16) & 0xFF)] ^ t[0x400 + (one >> 24)]
                  ^ t[0x300 + (two & 0xFF)] ^ t[0x200 + ((two >> 8) & 0xFF)] ^ t[0x100 + ((two >> 16) & 0xFF)] ^ t[two >> 24];
                i += 8;
                count -= 8;
            }

            while (count-- > 0)
            {
                c = (c >> 8) ^ t[(c ^ data[i++]) & 0xFF];
            }

            return ~c;
        }

        private static uint[] BuildTable()
        {
            var t = new uint[8 * 256];
            for (uint n = 0; n < 256; n++)
            {
                uint c = n;
                for (int k = 0; k < 8; k++)
                {
                    c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
                }

                t[n] = c;
            }

            for (int n = 0; n < 256; n++)
            {
                for (int k = 1; k < 8; k++)
                {
                    uint prev = t[((k - 1) * 256) + n];
                    t[(k * 256) + n] = (prev >> 8) ^ t[prev & 0xFF];
                }
            }

            return t;
        }
    }
}
