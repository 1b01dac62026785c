using System;
using System.Collections.Generic;
using System.Management.Automation.Runspaces;

namespace ParallelMap.Commands
{
    /// <summary>
    /// The channels of a pool made with <c>New-ParallelPool -Session</c> (connections to the
    /// sessions' hosts) or <c>-Isolation Process</c> (worker processes) that outlive a call, each
    /// opened and given the pool's set-up (modules, functions, variables, initialization script)
    /// once. A call borrows them through its workers (<see cref="RemoteEndpoint"/>,
    /// <see cref="ProcessEndpoint"/>), adds its own variables and location, runs its driver, and
    /// gives them back with its variables undone (<see cref="ProcessScripts.Reset"/>). The places
    /// (how many calls' workers at once) are the owning <see cref="ParallelPool"/>'s.
    /// </summary>
    /// <remarks>One lock guards the idle lists; nothing runs a script or closes a connection under it.</remarks>
    internal sealed class ChannelPool
    {
        private readonly object _sync = new object();
        private readonly List<DriverChannel>[] _idle;
        private bool _closed;

        /// <param name="sessions">The sessions whose hosts the channels connect to, or null: worker processes of this machine.</param>
        /// <param name="perSession">The most channels kept per session (or in all, for processes).</param>
        /// <param name="setup">The pool's own set-up.</param>
        internal ChannelPool(PSSession[]? sessions, int perSession, ProcessSetup setup)
        {
            Sessions = sessions;
            PerSession = perSession;
            Setup = setup;
            _idle = new List<DriverChannel>[sessions?.Length ?? 1];
            for (int i = 0; i < _idle.Length; i++) _idle[i] = new List<DriverChannel>();
        }

        /// <summary>The user's sessions whose hosts the pool connects to (only read, never used for work); null for a pool of worker processes.</summary>
        internal PSSession[]? Sessions { get; }

        /// <summary>The most channels kept to each session's host, or of worker processes.</summary>
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

        /// <summary>An idle channel of session <paramref name="index"/> (0 for processes) that is still alive, or null.</summary>
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
