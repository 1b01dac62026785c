using System.IO;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>The names of a checkpoint folder's parts (docs/checkpoint-format.md, "Layout").</summary>
    internal sealed class CheckpointLayout
    {
        internal const string ManifestName = "manifest.json";
        internal const string JournalName = "journal.log";
        internal const string ChunksName = "chunks";
        internal const string LockName = "lock";
        internal const string HolderName = "lock.holder";
        internal const string ChunkExtension = ".chunk";
        internal const string TempExtension = ".tmp";

        /// <summary>A spilled result's file in the chunks folder: "spill-" (no leading digits, so never taken for a chunk number), a GUID, ".tmp".</summary>
        internal const string SpillPrefix = "spill-";

        public CheckpointLayout(string folder)
        {
            Folder = Path.GetFullPath(folder);
            Manifest = Path.Combine(Folder, ManifestName);
            Journal = Path.Combine(Folder, JournalName);
            Chunks = Path.Combine(Folder, ChunksName);
            Lock = Path.Combine(Folder, LockName);
            Holder = Path.Combine(Folder, HolderName);
        }

        /// <summary>The checkpoint folder, as a full path.</summary>
        public string Folder { get; }

        /// <summary>The manifest, written once when the checkpoint is made.</summary>
        public string Manifest { get; }

        /// <summary>The append-only journal.</summary>
        public string Journal { get; }

        /// <summary>The folder of result chunk files.</summary>
        public string Chunks { get; }

        /// <summary>The file the OS-level lock is taken on; it stays in place between runs.</summary>
        public string Lock { get; }

        /// <summary>Who holds the lock; present only while a writer runs, or after one crashed.</summary>
        public string Holder { get; }

        /// <summary>Whether a name in a checkpoint folder is one a checkpoint makes (its files, its chunks folder, a temporary).</summary>
        public static bool IsCheckpointEntry(string name) =>
            name == ManifestName || name == JournalName || name == ChunksName || name == LockName || name == HolderName
            || name.EndsWith(TempExtension, System.StringComparison.Ordinal);

        /// <summary>The file name of chunk <paramref name="number"/>: at least 8 decimal digits, then ".chunk".</summary>
        public static string ChunkFileName(long number) => number.ToString("D8", System.Globalization.CultureInfo.InvariantCulture) + ChunkExtension;

        public string ChunkPath(long number) => Path.Combine(Chunks, ChunkFileName(number));

        /// <summary>A new spill file's path (<see cref="ResultSpill"/>).</summary>
        public string NewSpillPath() => Path.Combine(Chunks, SpillPrefix + System.Guid.NewGuid().ToString("N") + TempExtension);

        /// <summary>Whether a chunks-folder entry's name is a spill file's.</summary>
        public static bool IsSpillName(string fileName) =>
            fileName.StartsWith(SpillPrefix, System.StringComparison.Ordinal) && fileName.EndsWith(TempExtension, System.StringComparison.Ordinal);

        /// <summary>The number a chunk-folder entry's name starts with, or -1; temporaries and hook litter count, so a number is never reused.</summary>
        public static long LeadingNumber(string fileName)
        {
            long n = 0;
            int i = 0;
            for (; i < fileName.Length && i < 18; i++)
            {
                char ch = fileName[i];
                if (ch < '0' || ch > '9')
                {
                    break;
                }

                n = (n * 10) + (ch - '0');
            }

            return i == 0 ? -1 : n;
        }
    }
}
