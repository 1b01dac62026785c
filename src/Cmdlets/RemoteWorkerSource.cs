using System;
using System.Collections.Generic;
using System.Management.Automation;
using ParallelMap.Engine;

namespace ParallelMap.Commands
{
    /// <summary>
    /// The workers of -Session: each is a remote runspace of one session's host, -ThrottleLimit of
    /// them per session. A new worker goes to the usable session with the fewest workers, never
    /// past the limit; when no usable session has room (its hosts are lost), it goes to a lost one
    /// and ends at once, so the pool shrinks by that place (<see cref="RemoteEndpoint"/>).
    /// </summary>
    internal sealed class RemoteWorkerSource : ChannelWorkerSource
    {
        private readonly SessionSlot[] _slots;
        private readonly int _perSession;
        private readonly bool _addComputerName;
        private readonly ChannelPool? _pool;
        private readonly object _pick = new object();

        private RemoteWorkerSource(ProcessSetup setup, SessionSlot[] slots, int perSession, bool addComputerName, ChannelPool? pool)
            : base(setup)
        {
            _slots = slots;
            _perSession = perSession;
            _addComputerName = addComputerName;
            _pool = pool;
        }

        /// <summary>The work automatic batching hands a remote worker at once: each batch costs a round trip over the network.</summary>
        internal static readonly TimeSpan TargetBatchDuration = TimeSpan.FromMilliseconds(100);

        /// <summary>
        /// The engine settings of a remote run: bigger automatic batches (unless -BatchSize was
        /// given), and no limit on workers starting at once, since a remote worker's start waits
        /// on its host rather than using this machine's cores (the engine's default of one per
        /// core made 16 warm pooled workers start two at a time, seconds before the last one ran
        /// an item); connections opened to one host at once are limited by <see cref="SessionSlot"/>.
        /// </summary>
        internal static void Tune(EngineOptions options, int batchSize)
        {
            if (batchSize == 0) options.TargetBatchDuration = TargetBatchDuration;
            options.BeginConcurrency = 0;
        }

        /// <summary>Refuses what cannot go with -Session (ErrorId SessionParameterConflict).</summary>
        internal static void CheckParameters(IDictionary<string, object> bound)
        {
            foreach (var (name, why) in new[]
            {
                ("Pool", Strings.ConflictPool),
                ("Isolation", Strings.ConflictIsolation),
                ("MaxItemsPerWorker", Strings.ConflictRecycle),
                ("MaxWorkerMemoryMB", Strings.ConflictRecycle),
            })
            {
                if (bound.ContainsKey(name))
                {
                    throw new CommandErrorException(new ErrorRecord(new ArgumentException(UserText.Format(Strings.SessionConflict, name, why)), ErrorIds.SessionParameterConflictId, ErrorCategory.InvalidArgument, name));
                }
            }
        }

        /// <summary>How many sessions the run has (the engine's throttle is this many times the per-session limit).</summary>
        internal int SessionCount => _slots.Length;

        /// <summary>
        /// Checks every session (ErrorId SessionNotUsable) and reads the run's setup; nothing
        /// connects yet. With <paramref name="pool"/> (a pool made with -Session), the sessions are
        /// the pool's and the workers borrow its connections.
        /// </summary>
        internal static RemoteWorkerSource For(RunspaceSetup setup, IReadOnlyList<System.Management.Automation.Runspaces.PSSession> sessions, int perSession, bool addComputerName, ChannelPool? pool = null)
        {
            var slots = new SessionSlot[sessions.Count];
            for (int i = 0; i < slots.Length; i++) slots[i] = SessionSlot.Check(sessions[i]);
            ProcessSetup remote = ProcessSetup.From(setup);

            // This machine's current folder means nothing on another: remote work starts where
            // the remote session starts (its user's home), as with Invoke-Command.
            remote.WorkingDirectory = null;
            return new RemoteWorkerSource(remote, slots, perSession, addComputerName, pool);
        }

        protected override ChannelEndpoint MakeEndpoint(int workerId)
        {
            lock (_pick)
            {
                int best = -1;
                for (int i = 0; i < _slots.Length; i++)
                {
                    SessionSlot s = _slots[i];
                    if (!s.IsLost && s.Workers < _perSession && (best < 0 || s.Workers < _slots[best].Workers)) best = i;
                }

                if (best < 0)
                {
                    for (int i = 0; i < _slots.Length; i++)
                    {
                        if (_slots[i].IsLost) best = i;
                    }
                }

                if (best < 0) best = 0;
                _slots[best].Assign();
                return new RemoteEndpoint(_slots, best, _pool, _addComputerName);
            }
        }
    }
}
