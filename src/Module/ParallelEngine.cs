using System;
using System.Threading;

namespace ParallelMap.Engine
{
    /// <summary>Creates engines.</summary>
    public static class ParallelEngine
    {
        /// <summary>
        /// Creates an engine whose caller thread is the calling thread. Nothing starts until the
        /// first item is submitted; workers are then created lazily up to the throttle limit.
        /// </summary>
        /// <param name="options">The settings (copied: later changes do not reach the engine).</param>
        /// <param name="workerFactory">Makes worker number N (from 1); called on that worker's own thread.</param>
        /// <param name="sink">Receives records and outcomes on the caller's thread.</param>
        /// <param name="cancellationToken">Stops the run when cancelled, as <see cref="ParallelEngine{TIn, TOut}.Stop"/> does.</param>
        /// <typeparam name="TIn">The input type.</typeparam>
        /// <typeparam name="TOut">The output type.</typeparam>
        /// <returns>The engine.</returns>
        public static ParallelEngine<TIn, TOut> Create<TIn, TOut>(EngineOptions options, Func<int, Worker<TIn, TOut>> workerFactory, IEngineSink<TIn, TOut> sink, CancellationToken cancellationToken = default)
        {
            if (options is null) throw new ArgumentNullException(nameof(options));
            if (workerFactory is null) throw new ArgumentNullException(nameof(workerFactory), Messages.WorkerFactoryNull);
            if (sink is null) throw new ArgumentNullException(nameof(sink));
            return new ParallelEngine<TIn, TOut>(options.Clone(), new FactoryWorkerSource<TIn, TOut>(workerFactory), sink, cancellationToken);
        }

        /// <summary>
        /// Creates an engine, as <see cref="Create"/> does, whose workers come from
        /// <paramref name="workerSource"/>: made with <see cref="IWorkerSource{TIn, TOut}.Create"/>,
        /// replaced after a timeout with <see cref="IWorkerSource{TIn, TOut}.Replace"/>, and the source
        /// closed once by <see cref="ParallelEngine{TIn, TOut}.Dispose"/>.
        /// </summary>
        /// <param name="options">The settings (copied: later changes do not reach the engine).</param>
        /// <param name="workerSource">Makes the workers.</param>
        /// <param name="sink">Receives records and outcomes on the caller's thread.</param>
        /// <param name="cancellationToken">Stops the run when cancelled, as <see cref="ParallelEngine{TIn, TOut}.Stop"/> does.</param>
        /// <typeparam name="TIn">The input type.</typeparam>
        /// <typeparam name="TOut">The output type.</typeparam>
        /// <returns>The engine.</returns>
        public static ParallelEngine<TIn, TOut> CreateWithSource<TIn, TOut>(EngineOptions options, IWorkerSource<TIn, TOut> workerSource, IEngineSink<TIn, TOut> sink, CancellationToken cancellationToken = default)
        {
            if (options is null) throw new ArgumentNullException(nameof(options));
            if (workerSource is null) throw new ArgumentNullException(nameof(workerSource), Messages.WorkerSourceNull);
            if (sink is null) throw new ArgumentNullException(nameof(sink));
            return new ParallelEngine<TIn, TOut>(options.Clone(), workerSource, sink, cancellationToken);
        }
    }
}
