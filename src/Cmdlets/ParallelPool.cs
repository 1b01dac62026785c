using System;
using System.Collections.Generic;
using System.Management.Automation.Runspaces;
using System.Threading;

namespace ParallelMap.Commands
{
    /// <summary>
    /// A set of runspaces that outlive a call: made by New-ParallelPool, lent to each call given
    /// <c>-Pool</c>, closed by Remove-ParallelPool, <see cref="Dispose"/>, the removal of the module,
    /// the closing of the runspace that made it, or the end of the process.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Places: the pool has <see cref="Size"/> places. A call reserves places when it begins (see
    /// <see cref="Reserve"/>) and gives them back when it ends; its workers take idle runspaces,
    /// or open new ones, only within its places. A call that is not nested waits until at least one
    /// place is free and takes as many as it wants of those free. A call made while this thread
    /// (or the item whose code is calling) already holds places of this pool never waits, because
    /// what it would wait for may be its own caller: it takes the free places, or, if there are
    /// none, runs on one extra runspace, opened for it and closed after it (the only time the pool
    /// has more than <see cref="Size"/> runspaces).
    /// </para>
    /// <para>
    /// Concurrency: one lock, <c>_sync</c>, guards every field marked "(lock)". Nothing runs a
    /// script, opens or closes a runspace while holding it.
    /// </para>
    /// </remarks>
    public sealed class ParallelPool : IDisposable
    {
        private readonly object _sync = new object();

        /// <summary>Idle runspaces, most recently used last (lock).</summary>
        private readonly List<PooledRunspace> _idle = new List<PooledRunspace>();

        /// <summary>The calls holding places now (lock).</summary>
        private readonly List<PoolLease> _leases = new List<PoolLease>();
        private readonly Timer? _idleTimer;
        private int _open;     // (lock) every runspace of the pool not yet closed, idle or lent or opening
        private int _busy;     // (lock) lent to a call
        private int _leased;   // (lock) places reserved by calls
        private bool _closed;  // (lock)
        private int _idleTickRunning;
        private long _itemsRun;

        internal ParallelPool(int id, int size, TimeSpan? idleTimeout, InitialSessionState template, IReadOnlyList<string> modules, string? initializationScript, string? cleanupScript)
        {
            Id = id;
            Size = size;
            IdleTimeout = idleTimeout;
            Template = template;
            Modules = modules;
            InitializationScript = initializationScript;
            CleanupScript = cleanupScript;
            Created = DateTime.Now;
            if (idleTimeout is TimeSpan t)
            {
                // Checked a few times per timeout, so a runspace closes at most a quarter late.
                var period = TimeSpan.FromMilliseconds(Math.Max(50, Math.Min(5000, t.TotalMilliseconds / 4)));
                _idleTimer = new Timer(_ => CloseIdleExpired(), null, period, period);
            }
        }

        /// <summary>The pool's script-block variables as text, made anew in each runspace as it opens (<see cref="RunspaceSetup.PoolScriptBlockVariables"/>).</summary>
        internal IReadOnlyList<KeyValuePair<string, string>> ScriptBlockVariables { get; set; } = Array.Empty<KeyValuePair<string, string>>();

        /// <summary>The pool's number in this process, shown by Get-ParallelPool and accepted by Remove-ParallelPool -Id.</summary>
        public int Id { get; }

        /// <summary>The most runspaces the pool keeps open, and the most items its calls run at once.</summary>
        public int Size { get; }

        /// <summary>How long a runspace may stay idle before it is closed (it is opened again when a call needs it); null for never.</summary>
        public TimeSpan? IdleTimeout { get; }

        /// <summary>When the pool was made (local time).</summary>
        public DateTime Created { get; }

        /// <summary>How the pool's workers run: runspaces of this process (also for -Session, whose workers are remote runspaces), or worker processes.</summary>
        public WorkerIsolation Isolation => Channels is ChannelPool c && c.Sessions is null ? WorkerIsolation.Process : WorkerIsolation.Runspace;

        /// <summary>Runspaces open now: idle, lent to a call, or being opened (for a pool of -Session or -Isolation Process, its idle connections or worker processes).</summary>
        public int OpenRunspaces
        {
            get { lock (_sync) return _open + (Channels?.IdleCount ?? 0); }
        }

        /// <summary>Open runspaces that no call holds.</summary>
        public int IdleRunspaces
        {
            get { lock (_sync) return _idle.Count + (Channels?.IdleCount ?? 0); }
        }

        /// <summary>Runspaces lent to calls now.</summary>
        public int BusyRunspaces
        {
            get { lock (_sync) return _busy; }
        }

        /// <summary>Calls using the pool now.</summary>
        public int ActiveCalls
        {
            get { lock (_sync) return _leases.Count; }
        }

        /// <summary>Items run by every call on the pool so far (each item once, whatever its retries).</summary>
        public long ItemsRun => Interlocked.Read(ref _itemsRun);

        /// <summary>True once the pool is closed; a closed pool refuses new calls.</summary>
        public bool IsClosed
        {
            get { lock (_sync) return _closed; }
        }

        /// <summary>The session every runspace of the pool opens with (variables, functions, shared type tables).</summary>
        internal InitialSessionState Template { get; }

        /// <summary>Modules each runspace imports once, before the initialization script.</summary>
        internal IReadOnlyList<string> Modules { get; }

        internal string? InitializationScript { get; }

        internal string? CleanupScript { get; }

        /// <summary>For a pool made with -Session (connections to the sessions' hosts) or -Isolation Process (worker processes): its channels; the pool then has no runspaces of its own.</summary>
        internal ChannelPool? Channels { get; set; }

        /// <summary>The runspace that made the pool: closing it, or removing the module from it, closes the pool.</summary>
        internal Runspace? Owner { get; set; }

        /// <summary>Closes the pool: idle runspaces now (their cleanup script runs), lent ones when their call gives them back.</summary>
        public void Dispose() => Close();

        /// <summary>A short description for the console.</summary>
        /// <returns>The description.</returns>
        public override string ToString() => "ParallelPool " + Id.ToString(System.Globalization.CultureInfo.InvariantCulture);

        /// <summary>As <see cref="Dispose"/>; returns what the cleanup scripts of the idle runspaces wrote (outputs and error records).</summary>
        internal List<object> Close()
        {
            List<PooledRunspace> idle;
            lock (_sync)
            {
                if (_closed) return new List<object>();
                _closed = true;
                idle = new List<PooledRunspace>(_idle);
                _open -= _idle.Count;
                _idle.Clear();

                // Calls waiting for a place learn that the pool closed.
                Monitor.PulseAll(_sync);
            }

            _idleTimer?.Dispose();
            PoolRegistry.Remove(this);
            var written = new List<object>();
            foreach (PooledRunspace r in idle) written.AddRange(CloseQuietly(r));
            if (Channels is ChannelPool channels) written.AddRange(channels.Close());
            return written;
        }

        /// <summary>
        /// Reserves places for a call (the rule is in the class remarks). Blocks, on the caller's
        /// pipeline thread, until a place is free, unless the call is nested; a stop cancels the wait.
        /// </summary>
        /// <param name="want">The most places the call can use (its throttle limit).</param>
        /// <param name="session">The call's own variables and functions, applied to each runspace it borrows.</param>
        /// <param name="token">Cancelled by Ctrl-C.</param>
        /// <returns>The call's lease.</returns>
        internal PoolLease Reserve(int want, InitialSessionState session, CancellationToken token)
        {
            PoolLease? parent = PoolLease.Current;
            int thread = Environment.CurrentManagedThreadId;
            lock (_sync)
            {
                bool nested = false;
                for (PoolLease? l = parent; l is not null && !nested; l = l.Parent) nested = l.Pool == this && _leases.Contains(l);
                foreach (PoolLease l in _leases) nested |= l.CallerThreadId == thread;
                while (true)
                {
                    if (_closed) throw new ObjectDisposedException(ToString(), Strings.PoolClosed.Replace("{0}", Id.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                    int free = Size - _leased;
                    if (free > 0 || nested)
                    {
                        int places = Math.Min(want, Math.Max(0, free));
                        var lease = new PoolLease(this, places > 0 ? places : 1, places, thread, parent, session);
                        _leased += places;
                        _leases.Add(lease);
                        return lease;
                    }

                    // Woken when a call gives places back; the timeout is only for noticing a stop.
                    Monitor.Wait(_sync, 50);
                    token.ThrowIfCancellationRequested();
                }
            }
        }

        /// <summary>Gives a call's places back (once per lease).</summary>
        internal void Release(PoolLease lease)
        {
            lock (_sync)
            {
                if (!_leases.Remove(lease)) return;
                _leased -= lease.Places;
                Monitor.PulseAll(_sync);
            }
        }

        /// <summary>Takes an idle runspace; or, with none idle, counts one more that the caller is about to open.</summary>
        internal PooledRunspace? TakeIdle()
        {
            lock (_sync)
            {
                _busy++;
                if (_idle.Count > 0)
                {
                    PooledRunspace r = _idle[_idle.Count - 1];
                    _idle.RemoveAt(_idle.Count - 1);
                    return r;
                }

                _open++;
                return null;
            }
        }

        /// <summary>Takes a lent runspace back: true when it was kept idle; false when the caller must close it (or none was opened).</summary>
        internal bool Return(PooledRunspace? runspace, bool reusable)
        {
            lock (_sync)
            {
                _busy--;
                if (runspace is not null && reusable && !_closed && _open <= Size)
                {
                    runspace.IdleSince = DateTime.UtcNow;
                    _idle.Add(runspace);
                    return true;
                }

                _open--;
                return false;
            }
        }

        internal void CountItem() => Interlocked.Increment(ref _itemsRun);

        private void CloseIdleExpired()
        {
            // Timer callbacks can overlap when a cleanup script is slow.
            if (Interlocked.Exchange(ref _idleTickRunning, 1) != 0) return;
            try
            {
                var expired = new List<PooledRunspace>();
                lock (_sync)
                {
                    DateTime limit = DateTime.UtcNow - IdleTimeout!.Value;
                    for (int i = _idle.Count - 1; i >= 0; i--)
                    {
                        if (_idle[i].IdleSince > limit) continue;
                        expired.Add(_idle[i]);
                        _idle.RemoveAt(i);
                        _open--;
                    }
                }

                // Nothing can receive what these cleanup scripts write: the pool has no caller now.
                foreach (PooledRunspace r in expired) CloseQuietly(r);
            }
            finally
            {
                Volatile.Write(ref _idleTickRunning, 0);
            }
        }

        private List<object> CloseQuietly(PooledRunspace runspace)
        {
            try
            {
                return runspace.Close(CleanupScript);
            }
            catch (Exception e)
            {
                // A runspace that fails to close is gone either way; the failure is what is left to say.
                return new List<object> { e };
            }
        }
    }
}
