using System;
using System.Collections.Generic;
using System.Management.Automation.Runspaces;

namespace ParallelMap.Commands
{
    /// <summary>
    /// The remote part of a pool made with <c>New-ParallelPool -Session</c>: connections to the
    /// sessions' hosts that outlive a call, each opened and given the pool's set-up (modules,
    /// functions, variables, initialization script) once. A call borrows them through its
    /// workers (<see cref="RemoteEndpoint"/>), adds its own variables, runs its driver, and gives
    /// them back with its variables undone (<see cref="ProcessScripts.Reset"/>). The places (how
    /// many calls' workers at once) are the owning <see cref="ParallelPool"/>'s.
    /// </summary>
    /// <remarks>One lock guards the idle lists; nothing runs a script or closes a connection under it.</remarks>
    internal sealed class RemotePool
    {
        private readonly object _sync = new object();
        private readonly List<DriverChannel>[] _idle;
        private bool _closed;

        internal RemotePool(PSSession[] sessions, int perSession, ProcessSetup setup)
        {
            Sessions = sessions;
            PerSession = perSession;
            Setup = setup;
            _idle = new List<DriverChannel>[sessions.Length];
            for (int i = 0; i < sessions.Length; i++) _idle[i] = new List<DriverChannel>();
        }

        /// <summary>The user's sessions whose hosts the pool connects to (only read, never used for work).</summary>
        internal PSSession[] Sessions { get; }

        /// <summary>The most connections kept to each session's host.</summary>
        internal int PerSession { get; }

        /// <summary>The pool's own set-up: what every connection gets once, before any call's.</summary>
        internal ProcessSetup Setup { get; }

        /// <summary>Idle connections now, over every host.</summary>
        internal int IdleCount
        {
            get
            {
                lock (_sync)
                {
                    int n = 0;
                    foreach (var l in _idle) n += l.Count;
                    return n;
                }
            }
        }

        /// <summary>An idle connection to session <paramref name="index"/>'s host that is still alive, or null.</summary>
        internal DriverChannel? TakeIdle(int index)
        {
            var dead = new List<DriverChannel>();
            DriverChannel? found = null;
            lock (_sync)
            {
                List<DriverChannel> idle = _idle[index];
                while (found is null && idle.Count > 0)
                {
                    DriverChannel c = idle[idle.Count - 1];
                    idle.RemoveAt(idle.Count - 1);
                    if (c.IsDead) dead.Add(c);
                    else found = c;
                }
            }

            foreach (DriverChannel c in dead) Discard(c);
            return found;
        }

        /// <summary>Keeps a healthy connection idle for the next call; false (and the caller closes it) once the pool is closed or full.</summary>
        internal bool Return(int index, DriverChannel channel)
        {
            lock (_sync)
            {
                if (_closed || channel.IsDead || _idle[index].Count >= PerSession) return false;
                _idle[index].Add(channel);
                return true;
            }
        }

        /// <summary>Closes every idle connection, each after the pool's cleanup script; returns what those scripts wrote.</summary>
        internal List<object> Close()
        {
            var all = new List<DriverChannel>();
            lock (_sync)
            {
                _closed = true;
                foreach (var l in _idle)
                {
                    all.AddRange(l);
                    l.Clear();
                }
            }

            var written = new List<object>();
            foreach (DriverChannel c in all)
            {
                try
                {
                    c.Close(Setup.CleanupScript, o => written.Add(o is EndOutput output ? output.Value! : o));
                }
                catch (Exception e)
                {
                    // A connection that fails to close is gone either way; the failure is what is left to say.
                    written.Add(e);
                    Discard(c);
                }
            }

            return written;
        }

        private static void Discard(DriverChannel c)
        {
            c.Kill();
            c.Dispose();
        }
    }
}
