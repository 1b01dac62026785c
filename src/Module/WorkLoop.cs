using System;
using System.Threading;

namespace ParallelMap.Engine
{
    /// <summary>
    /// The item loop of one worker. <see cref="Run"/> takes items from the engine and processes
    /// them until the input is exhausted, the worker is aborted or the run stops.
    /// </summary>
    public abstract class WorkLoop
    {
        private int _ran;

        internal bool HasRun => Volatile.Read(ref _ran) != 0;

        /// <summary>Runs the loop on the calling thread; returns when there is no more work for this worker.</summary>
        public void Run()
        {
            if (Interlocked.Exchange(ref _ran, 1) != 0) throw new InvalidOperationException(Messages.LoopAlreadyRun);
            RunCore();
        }

        private protected abstract void RunCore();
    }
}
