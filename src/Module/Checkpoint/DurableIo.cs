using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>
    /// The durability primitives, in one place so that docs/checkpoint-format.md can say exactly
    /// what is fsynced when: file contents through <see cref="FileStream.Flush(bool)"/> (fsync on
    /// Unix, FlushFileBuffers on Windows), and on Unix the directory after a rename or create,
    /// through libc's fsync on the directory, which .NET offers no portable way to do.
    /// </summary>
    internal static class DurableIo
    {
        /// <summary>Strict UTF-8: a lone surrogate or an invalid byte sequence throws instead of turning into U+FFFD, which would merge distinct keys.</summary>
        internal static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

        /// <summary>EIO, the same number on Linux and macOS: the only directory-fsync failure that means data may be lost.</summary>
        private const int EIO = 5;

        /// <summary>Whether a directory fsync is tried at all: not on Windows, where NTFS journals metadata and a directory cannot be opened as a file.</summary>
        private static readonly bool IsUnix = !RuntimeInformation.IsOSPlatform(OSPlatform.Windows);

        /// <summary>Set once libc turned out to be missing (an unusual runtime); later calls skip the attempt.</summary>
        private static volatile bool _directorySyncUnavailable;

        /// <summary>Writes the OS buffers of <paramref name="stream"/> to the device (fsync).</summary>
        public static void SyncFile(FileStream stream) => stream.Flush(flushToDisk: true);

        /// <summary>
        /// Makes the names in <paramref name="directory"/> durable after a create or rename, where the
        /// platform allows it (Unix). A file system that does not support fsync on a directory is
        /// accepted silently; an I/O error is not.
        /// </summary>
        public static void SyncDirectory(string directory)
        {
            if (!IsUnix || _directorySyncUnavailable)
            {
                return;
            }

            int fd;
            try
            {
                fd = NativeMethods.open(directory, 0 /* O_RDONLY */);
            }
            catch (Exception e) when (e is DllNotFoundException || e is EntryPointNotFoundException)
            {
                _directorySyncUnavailable = true;
                return;
            }

            if (fd < 0)
            {
                return;
            }

            try
            {
                if (NativeMethods.fsync(fd) != 0 && Marshal.GetLastWin32Error() == EIO)
                {
                    throw new IOException("fsync of the directory '" + directory + "' failed with an I/O error.");
                }
            }
            finally
            {
                NativeMethods.close(fd);
            }
        }

        /// <summary>Reads a whole small file shared with writers, as UTF-8.</summary>
        public static string ReadAllText(string path)
        {
            using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 4096))
            using (var reader = new StreamReader(fs, StrictUtf8, detectEncodingFromByteOrderMarks: false))
            {
                return reader.ReadToEnd();
            }
        }

        /// <summary>
        /// Writes a whole small file durably under a final name that must not exist yet: into a
        /// unique temporary name, fsync, rename (never over an existing file), fsync the directory.
        /// </summary>
        public static void WriteNewFileDurably(string path, byte[] content)
        {
            string directory = Path.GetDirectoryName(path)!;
            string temp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096))
            {
                fs.Write(content, 0, content.Length);
                SyncFile(fs);
            }

            try
            {
                File.Move(temp, path);
            }
            catch
            {
                TryDelete(temp);
                throw;
            }

            SyncDirectory(directory);
        }

        /// <summary>Deletes a file of our own making (a temporary), ignoring a failure: it is only litter.</summary>
        public static void TryDelete(string path)
        {
            try
            {
                File.Delete(path);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        private static class NativeMethods
        {
            [DllImport("libc", SetLastError = true, EntryPoint = "open")]
            internal static extern int open([MarshalAs(UnmanagedType.LPStr)] string path, int flags);

            [DllImport("libc", SetLastError = true, EntryPoint = "fsync")]
            internal static extern int fsync(int fd);

            [DllImport("libc", SetLastError = true, EntryPoint = "close")]
            internal static extern int close(int fd);
        }
    }
}
