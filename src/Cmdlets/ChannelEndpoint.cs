using System;
using System.Threading;
using ParallelMap.Engine;

namespace ParallelMap.Commands
{
    /// <summary>
    /// Where the channels of one <see cref="ChannelWorker"/> come from (a child process each, or a
    /// connection to one remote host), and what the loss of one means: the one place the two
    /// kinds of far end differ for the worker.
    /// </summary>
    internal abstract class ChannelEndpoint
    {
        /// <summary>A new channel, not yet open. May throw <see cref="WorkerLostException"/> (a host already known lost).</summary>
        internal abstract DriverChannel NewChannel();

        /// <summary>
        /// Opens <paramref name="channel"/>; an endpoint whose far end cannot be reached throws
        /// <see cref="WorkerLostException"/>. <paramref name="emit"/> passes a record (a warning) to the caller.
        /// </summary>
        internal virtual void Open(DriverChannel channel, Action<object> emit, CancellationToken token) => channel.Open();

        /// <summary>
        /// The loss of <paramref name="dead"/> when it is not the item's fault, else null (the
        /// item then fails, as when a worker process crashes under it).
        /// </summary>
        internal virtual WorkerLostException? Lost(DriverChannel dead) => null;

        /// <summary>
        /// The loss of <paramref name="channel"/>, opened but broken before its set-up finished,
        /// when that is not an error of the set-up; else null (the set-up's error stops the run).
        /// </summary>
        internal virtual WorkerLostException? LostDuringStart(DriverChannel channel, Action<object> emit) => null;

        /// <summary>A channel of this endpoint finished its set-up and is ready for items.</summary>
        internal virtual void Started()
        {
        }

        /// <summary>An output or stream record of an item, as the caller gets it (a remote one tells its host).</summary>
        internal virtual object? Decorate(object? value) => value;

        /// <summary>The worker's site (<see cref="ParallelMap.Engine.Worker{TIn, TOut}.Site"/>): a remote host's number, 0 for this machine.</summary>
        internal virtual int Site => 0;

        /// <summary>The host the worker runs on, as results name it (PSComputerName); null for this machine.</summary>
        internal virtual string? ComputerName => null;

        /// <summary>The set-up of the pool this endpoint's channels come from (run once per channel, before the call's own), or null: no pool.</summary>
        internal virtual ProcessSetup? PoolSetup => null;

        /// <summary>
        /// Takes back a healthy channel whose driver finished and whose call's settings were undone,
        /// for a later call; false when it is not kept (no pool, or the pool is full or closed) and
        /// the worker closes it.
        /// </summary>
        internal virtual bool Keep(DriverChannel channel) => false;

        /// <summary>The worker ended: it holds no channel of this endpoint any more.</summary>
        internal virtual void Released()
        {
        }
    }
}
