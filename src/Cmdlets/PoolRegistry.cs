using System;
using System.Collections.Generic;
using System.Management.Automation.Runspaces;
using System.Threading;

namespace ParallelMap.Commands
{
    /// <summary>
    /// Every open pool of the process, for Get-ParallelPool and for closing pools that nobody will
    /// close: those made in a runspace that closes or removes the module, and all of them when the
    /// process exits. One lock guards the list; pools are closed outside it.
    /// </summary>
    internal static class PoolRegistry
    {
        /// <summary>How long the process's exit waits for the cleanup scripts of the pools still open.</summary>
        private static readonly TimeSpan ExitWait = TimeSpan.FromSeconds(5);
        private static readonly object Sync = new object();
        private static readonly List<ParallelPool> Pools = new List<ParallelPool>();
        private static int _nextId;
        private static int _exitHooked;

        internal static int NextId() => Interlocked.Increment(ref _nextId);

        /// <summary>Registers a new pool, closed with the runspace that made it.</summary>
        internal static void Add(ParallelPool pool)
        {
            if (Interlocked.Exchange(ref _exitHooked, 1) == 0) AppDomain.CurrentDomain.ProcessExit += (s, e) => CloseAtExit();
            lock (Sync) Pools.Add(pool);
            if (pool.Owner is Runspace owner)
            {
                owner.StateChanged += (s, e) =>
                {
                    if (e.RunspaceStateInfo.State == RunspaceState.Closing || e.RunspaceStateInfo.State == RunspaceState.Closed || e.RunspaceStateInfo.State == RunspaceState.Broken) pool.Close();
                };
            }
        }

        internal static void Remove(ParallelPool pool)
        {
            lock (Sync) Pools.Remove(pool);
        }

        /// <summary>The open pools, oldest first.</summary>
        internal static List<ParallelPool> All()
        {
            lock (Sync) return new List<ParallelPool>(Pools);
        }

        /// <summary>Closes the pools made in <paramref name="owner"/> (the module is being removed from it).</summary>
        internal static void CloseOwnedBy(Runspace? owner)
        {
            foreach (ParallelPool p in All())
            {
                if (owner is null || p.Owner is null || ReferenceEquals(p.Owner, owner)) p.Close();
            }
        }

        private static void CloseAtExit()
        {
            // Bounded: a cleanup script that hangs must not keep the process from exiting.
            var closer = new Thread(() => CloseOwnedBy(null)) { IsBackground = true, Name = "ParallelMap pool exit" };
            closer.Start();
            closer.Join(ExitWait);
        }
    }
}
