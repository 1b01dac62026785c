using System.Collections.Generic;
using ParallelMap.Engine;

namespace ParallelMap.Commands
{
    /// <summary>
    /// Makes <see cref="ChannelWorker"/>s for one run, each with the endpoint its kind gives it, and
    /// keeps every open channel so that <see cref="CloseAll"/> can kill any that a stuck or
    /// abandoned worker still holds: no child process or remote pipeline outlives the run.
    /// </summary>
    internal abstract class ChannelWorkerSource : IWorkerSource<object?, object?>
    {
        private readonly HashSet<DriverChannel> _channels = new HashSet<DriverChannel>();

        protected ChannelWorkerSource(ProcessSetup setup) => Setup = setup;

        /// <summary>What every worker's far end receives.</summary>
        protected ProcessSetup Setup { get; }

        public Worker<object?, object?> Create(int workerId) => new ChannelWorker(Setup, this, MakeEndpoint(workerId));

        public Worker<object?, object?> Replace(Worker<object?, object?> broken, int workerId)
        {
            // The timed-out worker's far end may be deaf to the abort (a native call): it was
            // killed by Abort; killing again is harmless and covers an abort that raced with its start.
            broken.Abort();
            return Create(workerId);
        }

        public void CloseAll()
        {
            DriverChannel[] left;
            lock (_channels)
            {
                left = new DriverChannel[_channels.Count];
                _channels.CopyTo(left);
                _channels.Clear();
            }

            foreach (var c in left) c.Kill();
        }

        /// <summary>The endpoint of worker <paramref name="workerId"/> (any thread; guards its own state).</summary>
        protected abstract ChannelEndpoint MakeEndpoint(int workerId);

        internal void Track(DriverChannel channel)
        {
            lock (_channels) _channels.Add(channel);
        }

        internal void Forget(DriverChannel channel)
        {
            lock (_channels) _channels.Remove(channel);
        }
    }
}
