using System;

namespace ParallelMap.Engine
{
    /// <summary>
    /// The source behind <see cref="ParallelEngine.Create"/>: every worker, a replacement too, is a
    /// new one from the factory, and there is nothing to close (each worker cleans up in its end).
    /// </summary>
    internal sealed class FactoryWorkerSource<TIn, TOut> : IWorkerSource<TIn, TOut>
    {
        private readonly Func<int, Worker<TIn, TOut>> _factory;

        internal FactoryWorkerSource(Func<int, Worker<TIn, TOut>> factory) => _factory = factory;

        public Worker<TIn, TOut> Create(int workerId) => _factory(workerId);

        public Worker<TIn, TOut> Replace(Worker<TIn, TOut> broken, int workerId) => _factory(workerId);

        public void CloseAll()
        {
        }
    }
}
