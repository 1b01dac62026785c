using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Threading;

namespace ParallelMap.Commands
{
    /// <summary>
    /// Tells a remote channel when the ssh client process carrying its connection has ended,
    /// which PowerShell's SSH transport can fail to notice: it learns of the end only from EOF on
    /// the client's stderr, and PowerShell's native fork helper makes its pipes with pipe()
    /// followed by fcntl(FD_CLOEXEC), so an ssh started at the same moment by another worker's
    /// connection can inherit the write end of this one's stderr and hold it open for its own
    /// life. The remote runspace then stays Opened for ever after its ssh died (a remote pwsh
    /// killed mid-run left the item waiting without end, and a host lost during a worker's
    /// set-up ended the run with InitializationFailed). Checking the process itself does not
    /// depend on any pipe.
    /// </summary>
    /// <remarks>
    /// One timer for every watched process of this PowerShell process, ticking only while
    /// something is watched. Callbacks run on a pool thread, once per watch, never under the lock.
    /// </remarks>
    internal static class SshClientWatch
    {
        private const int PeriodMs = 200;

        private static readonly object Sync = new object();
        private static readonly List<Entry> Watched = new List<Entry>();
        private static Timer? _timer;

        /// <summary>Calls <paramref name="ended"/> once the process <paramref name="pid"/> has ended; dispose the result to stop watching.</summary>
        internal static IDisposable Watch(int pid, Action ended)
        {
            var entry = new Entry(pid, StartTime(pid), ended);
            lock (Sync)
            {
                Watched.Add(entry);
                _timer ??= new Timer(_ => Tick(), null, PeriodMs, PeriodMs);
            }

            return entry;
        }

        private static void Tick()
        {
            Entry[] snapshot;
            lock (Sync)
            {
                snapshot = Watched.ToArray();
            }

            foreach (Entry e in snapshot)
            {
                if (IsAlive(e.Pid, e.StartTime)) continue;
                if (Remove(e)) e.Ended();
            }
        }

        private static bool Remove(Entry entry)
        {
            lock (Sync)
            {
                if (!Watched.Remove(entry)) return false;
                if (Watched.Count == 0)
                {
                    _timer?.Dispose();
                    _timer = null;
                }

                return true;
            }
        }

        /// <summary>
        /// False once the process is gone. On Linux /proc tells a zombie (ssh is PowerShell's
        /// child, not reaped until the transport closes) and a reused pid (another start time).
        /// </summary>
        private static bool IsAlive(int pid, string? startTime)
        {
            string stat = "/proc/" + pid + "/stat";
            if (startTime is not null || Directory.Exists("/proc/self"))
            {
                string? now = ReadStat(stat);
                if (now is null) return false;
                int close = now.LastIndexOf(')');
                char state = close >= 0 && close + 2 < now.Length ? now[close + 2] : '?';
                if (state == 'Z' || state == 'X' || state == 'x') return false;
                return startTime is null || string.Equals(StartTimeOf(now), startTime, StringComparison.Ordinal);
            }

            try
            {
                using Process p = Process.GetProcessById(pid);
                return !p.HasExited;
            }
            catch (ArgumentException)
            {
                return false;
            }
            catch (InvalidOperationException)
            {
                return false;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // Not ours to look at: not known to have ended.
                return true;
            }
        }

        private static string? StartTime(int pid)
        {
            string? stat = ReadStat("/proc/" + pid + "/stat");
            return stat is null ? null : StartTimeOf(stat);
        }

        /// <summary>Field 22 of /proc/pid/stat (the start time), counted after the command's closing parenthesis.</summary>
        private static string? StartTimeOf(string stat)
        {
            int close = stat.LastIndexOf(')');
            if (close < 0) return null;
            string[] fields = stat.Substring(close + 1).Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
            return fields.Length > 19 ? fields[19] : null;
        }

        private static string? ReadStat(string path)
        {
            try
            {
                return File.ReadAllText(path);
            }
            catch (IOException)
            {
                return null;
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }
        }

        private sealed class Entry : IDisposable
        {
            private readonly Action _ended;

            internal Entry(int pid, string? startTime, Action ended)
            {
                Pid = pid;
                StartTime = startTime;
                _ended = ended;
            }

            internal int Pid { get; }

            internal string? StartTime { get; }

            internal void Ended() => ThreadPool.QueueUserWorkItem(_ => _ended());

            public void Dispose() => Remove(this);
        }
    }
}
