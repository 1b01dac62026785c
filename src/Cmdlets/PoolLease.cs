using System.Collections.Concurrent;
using System.Management.Automation.Runspaces;
using System.Threading;

namespace ParallelMap.Commands
{
    /// <summary>
    /// One call's share of a <see cref="ParallelPool"/>: the places it reserved, and the lender its
    /// runspace workers borrow from. Its workers call in from their own threads at once; the pool
    /// guards the shared counts, and <c>_held</c> maps each lent runspace to its pool record.
    /// </summary>
    internal sealed class PoolLease : IRunspaceLender
    {
        /// <summary>
        /// The lease whose runspace the code on this thread runs in, if any. It flows to the threads
        /// that code starts (a nested unpooled call's workers), so a pooled call made there still
        /// knows it is nested and must not wait for places its caller holds.
        /// </summary>
        private static readonly AsyncLocal<PoolLease?> CurrentLease = new AsyncLocal<PoolLease?>();

        private readonly InitialSessionState _session;
        private readonly ConcurrentDictionary<Runspace, PooledRunspace> _held = new ConcurrentDictionary<Runspace, PooledRunspace>();
        private int _released;

        internal PoolLease(ParallelPool pool, int throttle, int places, int callerThreadId, PoolLease? parent, InitialSessionState session)
        {
            Pool = pool;
            Throttle = throttle;
            Places = places;
            CallerThreadId = callerThreadId;
            Parent = parent;
            _session = session;
        }

        /// <summary>The lease of the pooled runspace this thread's code runs in, if any.</summary>
        internal static PoolLease? Current => CurrentLease.Value;

        internal ParallelPool Pool { get; }

        /// <summary>The call's throttle limit: its places, or 1 for a nested call that found none free.</summary>
        internal int Throttle { get; }

        /// <summary>Places counted against the pool's size (0 for a nested call on an extra runspace).</summary>
        internal int Places { get; }

        /// <summary>The caller's pipeline thread: a second call from it while this one runs is nested.</summary>
        internal int CallerThreadId { get; }

        /// <summary>The lease the caller's code ran under, when the call is nested.</summary>
        internal PoolLease? Parent { get; }

        /// <summary>Gives the places back; later calls are no-ops.</summary>
        internal void Release()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) Pool.Release(this);
        }

        public Runspace? Borrow(int workerId)
        {
            PooledRunspace? idle = Pool.TakeIdle();
            if (idle is null) return null;
            _held[idle.Runspace] = idle;
            return idle.Runspace;
        }

        public string NewRunspaceName() => "ParallelPool" + Pool.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);

        public void Adopt(Runspace runspace) => _held[runspace] = new PooledRunspace(runspace);

        public void Enter(Runspace runspace)
        {
            CurrentLease.Value = this;
            _held[runspace].Enter(_session);
        }

        public bool TryReturn(Runspace? runspace, bool healthy)
        {
            CurrentLease.Value = null;
            PooledRunspace? held = null;
            if (runspace is not null) _held.TryRemove(runspace, out held);
            bool reusable = healthy && held is not null;
            if (reusable)
            {
                try
                {
                    held!.Reset();
                }
                catch (System.Exception)
                {
                    // A runspace that cannot be reset is not lent again: closed like a broken one.
                    reusable = false;
                }
            }

            return Pool.Return(held, reusable);
        }
    }
}
