using ParallelMap.Engine;

namespace ParallelMap.Commands
{
    /// <summary>
    /// The worker source of a call given -Pool: each worker is a <see cref="RunspaceWorker"/> that
    /// borrows its runspace from the call's <see cref="PoolLease"/> and gives it back at its end; a
    /// replacement after a timeout borrows another (the timed-out one is closed, never lent again).
    /// Closing the source gives the call's places back to the pool.
    /// </summary>
    internal sealed class PooledWorkerSource : IWorkerSource<object?, object?>
    {
        private readonly RunspaceSetup _setup;
        private readonly PoolLease _lease;

        internal PooledWorkerSource(RunspaceSetup setup, PoolLease lease)
        {
            _setup = setup;
            _lease = lease;
        }

        public Worker<object?, object?> Create(int workerId) => new RunspaceWorker(_setup);

        public Worker<object?, object?> Replace(Worker<object?, object?> broken, int workerId) => new RunspaceWorker(_setup);

        public void CloseAll() => _lease.Release();
    }
}
