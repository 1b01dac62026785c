using System;
using System.Management.Automation;
using System.Threading;
using ParallelMap.Engine;

namespace ParallelMap.Commands
{
    /// <summary>
    /// The endpoint of a worker on one of the user's sessions (<see cref="SessionSlot"/>): its
    /// channels are new connections to that host. A connection that breaks under an item is not
    /// the item's fault: the item runs again elsewhere (<see cref="WorkerLostException"/>), and
    /// the next worker in this place connects again. A host that cannot be reached twice running
    /// is lost: a warning names it once, and its places go.
    /// </summary>
    internal sealed class RemoteEndpoint : ChannelEndpoint
    {
        private const int OpenAttempts = 2;

        /// <summary>Connections to one host whose set-up broke, one after another, before that host counts as lost.</summary>
        private const int BrokenStartsToLose = 3;
        private static readonly TimeSpan OpenRetryDelay = TimeSpan.FromMilliseconds(500);

        private readonly SessionSlot _slot;
        private readonly System.Collections.Generic.IReadOnlyList<SessionSlot> _allSlots;
        private readonly int _slotIndex;
        private readonly ChannelPool? _pool;
        private readonly bool _addComputerName;
        private int _released;

        /// <summary>
        /// The worker holds a place of one session (already counted by the caller), the
        /// session at <paramref name="slotIndex"/> of the run's <paramref name="allSlots"/>; with
        /// <paramref name="pool"/>, its connections are borrowed from that pool and given back.
        /// </summary>
        internal RemoteEndpoint(System.Collections.Generic.IReadOnlyList<SessionSlot> allSlots, int slotIndex, ChannelPool? pool, bool addComputerName)
        {
            _allSlots = allSlots;
            _slot = allSlots[slotIndex];
            _slotIndex = slotIndex;
            _pool = pool;
            _addComputerName = addComputerName;
        }

        /// <summary>The session's number among the run's, from 1: each session is a site of its own.</summary>
        internal override int Site => _slotIndex + 1;

        internal override string? ComputerName => _slot.ComputerName;

        internal override DriverChannel NewChannel()
        {
            if (_slot.IsLost) throw new WorkerLostException(UserText.Format(Strings.HostKnownLost, _slot.ComputerName), placeLost: true, null);
            return _pool?.TakeIdle(_slotIndex) ?? new RemoteChannel(_slot.Connection);
        }

        internal override ProcessSetup? PoolSetup => _pool?.Setup;

        internal override bool Keep(DriverChannel channel) => _pool is not null && _pool.Return(_slotIndex, channel);

        internal override void Open(DriverChannel channel, Action<object> emit, CancellationToken token)
        {
            Exception? last = null;
            for (int attempt = 1; attempt <= OpenAttempts && !_slot.IsLost; attempt++)
            {
                if (attempt > 1 && token.WaitHandle.WaitOne(OpenRetryDelay)) throw new OperationCanceledException(token);
                _slot.EnterOpen(token);
                try
                {
                    channel.Open();
                    return;
                }
                catch (OperationCanceledException)
                {
                    throw;
                }
                catch (Exception ex)
                {
                    last = ex;
                }
                finally
                {
                    _slot.LeaveOpen();
                }
            }

            string why = last?.Message ?? UserText.Format(Strings.HostKnownLost, _slot.ComputerName);
            throw LoseHost(why, emit, last);
        }

        /// <summary>
        /// A set-up that failed on a connection that broke (the runspace's state may trail the
        /// failure by a moment): the place is tried again by a new worker, unless starts on this
        /// host broke <see cref="BrokenStartsToLose"/> times running, which makes the host lost.
        /// </summary>
        internal override WorkerLostException? LostDuringStart(DriverChannel channel, Action<object> emit)
        {
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (!channel.IsDead && waited.ElapsedMilliseconds < 2000) Thread.Sleep(50);
            if (!channel.IsDead) return null;
            string why = channel.DescribeExit();
            if (_slot.StartBroke() < BrokenStartsToLose) return new WorkerLostException(UserText.Format(Strings.ConnectionLost, _slot.ComputerName, why), placeLost: false, channel.DriverFailure);
            return LoseHost(why, emit, channel.DriverFailure);
        }

        /// <summary>Marks the host lost (the one caller that does so warns, once per run) and gives the loss of this place.</summary>
        private WorkerLostException LoseHost(string why, Action<object> emit, Exception? inner)
        {
            bool first = _slot.MarkLost();

            // The last one says so: no other session is left to take its items.
            bool othersLeft = false;
            foreach (SessionSlot s in _allSlots) othersLeft |= !s.IsLost;
            string message = UserText.Format(othersLeft ? Strings.HostLost : Strings.HostLostLast, _slot.ComputerName, _slot.Session.Name, why);
            if (first) emit(new WarningRecord(message));
            return new WorkerLostException(message, placeLost: true, inner);
        }

        internal override void Started() => _slot.StartWorked();

        internal override WorkerLostException? Lost(DriverChannel dead) =>
            new WorkerLostException(UserText.Format(Strings.ConnectionLost, _slot.ComputerName, dead.DescribeExit()), placeLost: false, dead.DriverFailure);

        /// <summary>
        /// Outputs get a PSComputerName note property, as Invoke-Command's do (unless the call
        /// opted out); error records say the host in their message, since every host of a run
        /// may print the same error.
        /// </summary>
        internal override object? Decorate(object? value)
        {
            switch (value)
            {
                case null:
                    return null;
                case ErrorRecord record:
                    return OnHost(record);
                case InformationalRecord _:
                case InformationRecord _:
                case ProgressRecord _:
                case EndOutput _:
                    return value;
            }

            if (!_addComputerName) return value;
            PSObject o = PSObject.AsPSObject(value);
            if (o.Properties["PSComputerName"] is null) o.Properties.Add(new PSNoteProperty("PSComputerName", _slot.ComputerName));
            return o;
        }

        internal override void Released()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) _slot.Unassign();
        }

        private ErrorRecord OnHost(ErrorRecord record)
        {
            string message = record.ErrorDetails?.Message ?? record.Exception?.Message ?? string.Empty;
            string prefix = UserText.Format(Strings.OnHost, _slot.ComputerName, string.Empty);
            if (message.StartsWith(prefix, StringComparison.Ordinal)) return record;
            var copy = new ErrorRecord(record, null) { ErrorDetails = new ErrorDetails(prefix + message) };
            if (record.ErrorDetails?.RecommendedAction is string action) copy.ErrorDetails.RecommendedAction = action;
            return copy;
        }
    }
}
