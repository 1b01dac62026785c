using System;
using System.IO;
using System.Security.Cryptography;
using System.Text;

namespace ParallelMap.Engine.Checkpoint
{
    // The fingerprint helper callers use to tie a checkpoint to what produced it.
    public static partial class CheckpointStore
    {
        /// <summary>
        /// A fingerprint for <see cref="CheckpointOptions.Fingerprint"/>: "sha256:" and the hex SHA-256 of the
        /// parts (each UTF-8, length-prefixed, so ("ab","c") and ("a","bc") differ).
        /// </summary>
        public static string ComputeFingerprint(params string[] parts)
        {
            if (parts is null)
            {
                throw new ArgumentNullException(nameof(parts));
            }

            using (var stream = new MemoryStream())
            {
                var word = new byte[4];
                foreach (string part in parts)
                {
                    byte[] bytes = Encoding.UTF8.GetBytes(part ?? string.Empty);
                    ChunkFile.PutInt(word, bytes.Length);
                    stream.Write(word, 0, 4);
                    stream.Write(bytes, 0, bytes.Length);
                }

                using (SHA256 sha = SHA256.Create())
                {
                    byte[] hash = sha.ComputeHash(stream.ToArray());
                    var sb = new StringBuilder("sha256:", 7 + 64);
                    foreach (byte b in hash)
                    {
                        sb.Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
                    }

                    return sb.ToString();
                }
            }
        }
    }
}
