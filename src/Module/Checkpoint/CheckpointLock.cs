using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>
    /// The one-writer lock (docs/checkpoint-format.md, "Lock"). Two parts:
    /// <list type="bullet">
    /// <item>the OS lock: the file <c>lock</c>, held open with <see cref="FileShare.None"/>. On Unix .NET
    /// takes flock(LOCK_EX) for that, on Windows it is a share-mode lock; either way the kernel drops
    /// it when the holder dies, however it dies, so two writers can never both get it and a takeover
    /// needs no rename race.</item>
    /// <item>the holder file <c>lock.holder</c>: who holds it (host, PID, process start, time taken),
    /// written once the OS lock is held and deleted before it is released. The OS lock keeps
    /// readers out of <c>lock</c> itself, hence a second file.</item>
    /// </list>
    /// Where the OS lock does not work (some network file systems, or file locking disabled in .NET)
    /// the holder file is the fallback: a holder on another host is never treated as stale, and a
    /// holder on this host whose process still runs keeps the lock.
    /// </summary>
    internal sealed class CheckpointLock : IDisposable
    {
        /// <summary>The open <c>lock</c> file; holding it is holding the lock.</summary>
        private FileStream? _lockStream;

        private readonly CheckpointLayout _layout;

        private CheckpointLock(CheckpointLayout layout, FileStream lockStream, CheckpointLockHolder holder, CheckpointLockHolder? previous)
        {
            _layout = layout;
            _lockStream = lockStream;
            Holder = holder;
            TakenOverFrom = previous;
        }

        /// <summary>This writer, as written to the holder file.</summary>
        public CheckpointLockHolder Holder { get; }

        /// <summary>The stale holder whose lock this writer took over, or null.</summary>
        public CheckpointLockHolder? TakenOverFrom { get; }

        /// <summary>Takes the lock, or throws <see cref="CheckpointErrorIds.CheckpointLocked"/> naming the holder,
        /// or <see cref="CheckpointErrorIds.CheckpointNotWritable"/>.</summary>
        public static CheckpointLock Acquire(CheckpointLayout layout, string runId)
        {
            // Who we are is worked out before the OS lock is taken, so that the holder file follows
            // the lock as closely as possible: a refused writer reads it to name us.
            CheckpointLockHolder me = CreateHolder(runId);
            FileStream stream;
            try
            {
                stream = new FileStream(layout.Lock, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1);
            }
            catch (UnauthorizedAccessException e)
            {
                throw NotWritable(layout, e);
            }
            catch (IOException e) when (!(e is FileNotFoundException) && !(e is DirectoryNotFoundException))
            {
                // A failed exclusive open means either another holder or no write access (a
                // read-only file system); a shared read open fails only in the first case.
                if (IsHeldByOther(layout.Lock))
                {
                    throw LockedBy(layout, WaitForLiveHolder(layout.Holder));
                }

                throw NotWritable(layout, e);
            }

            try
            {
                CheckpointLockHolder? previous = ReadHolder(layout.Holder);
                if (previous != null)
                {
                    if (!previous.IsThisHost)
                    {
                        throw new CheckpointException(
                            CheckpointErrorIds.CheckpointLocked,
                            EngineText.Format(CheckpointMessages.LockedOtherHost, layout.Folder, previous, layout.Holder),
                            layout.Folder) { Holder = previous };
                    }

                    if (IsAlive(previous))
                    {
                        throw new CheckpointException(
                            CheckpointErrorIds.CheckpointLocked,
                            EngineText.Format(CheckpointMessages.LockedLiveHolderWithoutOsLock, layout.Folder, previous, layout.Holder),
                            layout.Folder) { Holder = previous };
                    }
                }

                WriteHolder(layout, me, replace: previous != null || File.Exists(layout.Holder));
                return new CheckpointLock(layout, stream, me, previous);
            }
            catch (Exception e)
            {
                stream.Dispose();
                if (e is UnauthorizedAccessException || e is IOException)
                {
                    throw NotWritable(layout, e);
                }

                throw;
            }
        }

        /// <summary>Reads the holder file, or null if there is none or it cannot be read (being written, or damaged).</summary>
        public static CheckpointLockHolder? ReadHolder(string path)
        {
            string text;
            try
            {
                text = DurableIo.ReadAllText(path);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException || e is DecoderFallbackException)
            {
                return null;
            }

            try
            {
                if (!(MiniJson.Parse(text) is Dictionary<string, object?> o))
                {
                    return null;
                }

                string host = o.TryGetValue("host", out object? h) && h is string hs ? hs : string.Empty;
                int pid = o.TryGetValue("pid", out object? p) && p is long pl ? (int)pl : 0;
                DateTime processStart = ParseTime(o, "processStart");
                DateTime acquired = ParseTime(o, "acquired");
                string user = o.TryGetValue("user", out object? u) && u is string us ? us : string.Empty;
                string runId = o.TryGetValue("runId", out object? r) && r is string rs ? rs : string.Empty;
                return host.Length == 0 || pid <= 0 ? null : new CheckpointLockHolder(host, pid, processStart, acquired, user, runId);
            }
            catch (MiniJson.JsonFormatException)
            {
                return null;
            }
        }

        /// <summary>Whether the holder's process runs: on another host we cannot know, so yes; on this
        /// host, a process with its PID and its start time (a reused PID is not the holder).</summary>
        public static bool IsAlive(CheckpointLockHolder holder)
        {
            if (!holder.IsThisHost)
            {
                return true;
            }

            try
            {
                using (Process p = Process.GetProcessById(holder.ProcessId))
                {
                    if (IsZombie(holder.ProcessId))
                    {
                        return false;
                    }

                    DateTime start = p.StartTime.ToUniversalTime();
                    return Math.Abs((start - holder.ProcessStartUtc).TotalSeconds) < 1.0;
                }
            }
            catch (ArgumentException)
            {
                return false; // no such process
            }
            catch (InvalidOperationException)
            {
                return false; // it exited meanwhile
            }
            catch (Exception)
            {
                return true; // cannot tell (e.g. access denied on Windows): keep the lock, the message says how to remove it
            }
        }

        /// <summary>Deletes the holder file, then releases the OS lock; exactly once.</summary>
        public void Dispose()
        {
            FileStream? stream = _lockStream;
            _lockStream = null;
            if (stream is null)
            {
                return;
            }

            // The holder file goes first, while the OS lock still keeps the next writer out, so the
            // next writer never finds a holder file that names a finished run.
            try
            {
                File.Delete(_layout.Holder);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }

            stream.Dispose();
        }

        /// <summary>
        /// The holder of a lock we were refused. A writer that has just taken the OS lock writes its
        /// holder file a moment later; until then the file is missing or still names the previous,
        /// dead holder. So: read until it names a live holder (or one on another host), for up to
        /// <see cref="HolderWait"/>, then settle for what there is.
        /// </summary>
        private static CheckpointLockHolder? WaitForLiveHolder(string holderPath)
        {
            var clock = Stopwatch.StartNew();
            while (true)
            {
                CheckpointLockHolder? holder = ReadHolder(holderPath);
                if ((holder != null && IsAlive(holder)) || clock.Elapsed >= HolderWait)
                {
                    return holder;
                }

                Thread.Sleep(10);
            }
        }

        /// <summary>How long a refused writer waits for the holder to name itself.</summary>
        private static readonly TimeSpan HolderWait = TimeSpan.FromSeconds(1);

        private static bool IsHeldByOther(string lockPath)
        {
            try
            {
                using (new FileStream(lockPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1))
                {
                    return false;
                }
            }
            catch (FileNotFoundException)
            {
                return false;
            }
            catch (UnauthorizedAccessException)
            {
                return false;
            }
            catch (IOException)
            {
                return true;
            }
        }

        /// <summary>
        /// Throws <see cref="CheckpointErrorIds.CheckpointLocked"/> when the holder file names a live
        /// process (or one on another host, never taken for stale). Reads only: Open calls it before
        /// any other check, so a second writer hears first that it must wait, whatever else differs.
        /// The holder file is deleted on release, so a live name means a held lock.
        /// </summary>
        internal static void ThrowIfLiveHolder(CheckpointLayout layout)
        {
            CheckpointLockHolder? holder = ReadHolder(layout.Holder);
            if (holder != null && IsAlive(holder))
            {
                throw LockedBy(layout, holder);
            }
        }

        private static CheckpointException LockedBy(CheckpointLayout layout, CheckpointLockHolder? holder)
        {
            string message = holder is null
                ? EngineText.Format(CheckpointMessages.LockedUnknownHolder, layout.Folder, layout.Holder)
                : EngineText.Format(CheckpointMessages.Locked, layout.Folder, holder);
            return new CheckpointException(CheckpointErrorIds.CheckpointLocked, message, layout.Folder) { Holder = holder };
        }

        private static CheckpointException NotWritable(CheckpointLayout layout, Exception e)
            => new CheckpointException(CheckpointErrorIds.CheckpointNotWritable, EngineText.Format(CheckpointMessages.NotWritable, layout.Folder, e.Message), layout.Folder, e);

        private static CheckpointLockHolder CreateHolder(string runId)
        {
            using (Process me = Process.GetCurrentProcess())
            {
                return new CheckpointLockHolder(Environment.MachineName, me.Id, me.StartTime.ToUniversalTime(), DateTime.UtcNow, Environment.UserName, runId);
            }
        }

        private static void WriteHolder(CheckpointLayout layout, CheckpointLockHolder holder, bool replace)
        {
            var sb = new StringBuilder();
            sb.Append("{\"host\": ");
            MiniJson.WriteString(sb, holder.Host);
            sb.Append(", \"pid\": ").Append(holder.ProcessId.ToString(CultureInfo.InvariantCulture));
            sb.Append(", \"processStart\": ");
            MiniJson.WriteString(sb, holder.ProcessStartUtc.ToString("o", CultureInfo.InvariantCulture));
            sb.Append(", \"acquired\": ");
            MiniJson.WriteString(sb, holder.AcquiredUtc.ToString("o", CultureInfo.InvariantCulture));
            sb.Append(", \"user\": ");
            MiniJson.WriteString(sb, holder.User);
            sb.Append(", \"runId\": ");
            MiniJson.WriteString(sb, holder.RunId);
            sb.Append("}\n");

            // Under the OS lock nobody else writes here; the stale holder file (if any) is removed
            // and the new one renamed into place, so a reader sees an old, a new or no holder, never half of one.
            if (replace)
            {
                File.Delete(layout.Holder);
            }

            DurableIo.WriteNewFileDurably(layout.Holder, DurableIo.StrictUtf8.GetBytes(sb.ToString()));
        }

        private static DateTime ParseTime(Dictionary<string, object?> o, string name)
            => o.TryGetValue(name, out object? v) && v is string s
               && DateTime.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out DateTime t)
                ? t.ToUniversalTime()
                : DateTime.MinValue;

        /// <summary>On Linux a killed process stays in the process table as a zombie until its parent
        /// reaps it; it holds no files, so it is not a holder.</summary>
        private static bool IsZombie(int pid)
        {
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
            {
                return false;
            }

            try
            {
                string stat = File.ReadAllText("/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/stat");
                int close = stat.LastIndexOf(')');
                return close > 0 && close + 2 < stat.Length && (stat[close + 2] == 'Z' || stat[close + 2] == 'X');
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                return false;
            }
        }
    }
}
