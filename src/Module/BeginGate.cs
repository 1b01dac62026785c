using System.Threading;

namespace ParallelMap.Engine
{
    /// <summary>
    /// The places for workers running their begin at once (<see cref="EngineOptions.BeginConcurrency"/>).
    /// A waiter blocks on a monitor without spinning: at a throttle of 50 on 2 cores, 48 workers
    /// wait here while 2 open their runspaces, and a <see cref="SemaphoreSlim"/>'s spin before it
    /// blocks (again after every 50 ms timeout) was a seventh of the CPU samples of the sleep
    /// figure's run in dotnet-trace, taken from the very begins they waited for. (The run's wall
    /// time did not measurably change on the 2-core machine; the CPU is given back to the user.)
    /// </summary>
    internal sealed class BeginGate
    {
        private readonly object _sync = new object();
        private int _free;

        internal BeginGate(int places) => _free = places;

        /// <summary>Takes a place, waiting up to <paramref name="millisecondsTimeout"/>; false if none came free.</summary>
        internal bool TryEnter(int millisecondsTimeout)
        {
            lock (_sync)
            {
                if (_free == 0) Monitor.Wait(_sync, millisecondsTimeout);

                // Another thread may have taken the place between the pulse and this wake.
                if (_free == 0) return false;
                _free--;
                return true;
            }
        }

        /// <summary>Gives a place back and wakes one waiter.</summary>
        internal void Exit()
        {
            lock (_sync)
            {
                _free++;
                Monitor.Pulse(_sync);
            }
        }
    }
}
