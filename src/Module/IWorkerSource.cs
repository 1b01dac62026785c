namespace ParallelMap.Engine
{
    /// <summary>
    /// Where an engine's workers come from: the one seam between the scheduler and what a worker is.
    /// Today's worker is a runspace opened in this process for the run; a reusable pool, a child
    /// process or a remote session is each one more implementation, and the caller only chooses
    /// which source to hand to <see cref="ParallelEngine.CreateWithSource"/>.
    /// </summary>
    /// <remarks>
    /// The engine calls <see cref="Create"/> and <see cref="Replace"/> on the new worker's own
    /// thread (so opening a runspace or starting a process runs in parallel across workers, and
    /// may block), never under an engine lock; <see cref="CloseAll"/> once, from
    /// <see cref="ParallelEngine{TIn, TOut}.Dispose"/>. Calls for different workers may come at
    /// the same time: an implementation that keeps shared state guards it. Each worker it returns
    /// belongs to the engine until that worker's <c>End</c> has run, which happens once for every
    /// worker whose begin was attempted, on its own thread, even after a timeout or a stop.
    /// </remarks>
    /// <typeparam name="TIn">The input type.</typeparam>
    /// <typeparam name="TOut">The output type.</typeparam>
    public interface IWorkerSource<TIn, TOut>
    {
        /// <summary>Makes worker number <paramref name="workerId"/> (from 1) for a new place in the pool.</summary>
        /// <param name="workerId">The new worker's number, unique within the run.</param>
        /// <returns>The worker, not yet begun.</returns>
        Worker<TIn, TOut> Create(int workerId);

        /// <summary>
        /// Makes worker number <paramref name="workerId"/> in place of <paramref name="broken"/>,
        /// which the engine discarded because an item of it timed out. The broken worker was
        /// aborted, but its thread may still be inside that item (a call that ignores the abort);
        /// its <c>End</c> runs on that thread when it comes back. A source whose workers can be
        /// killed from outside (a child process) can do so here.
        /// </summary>
        /// <param name="broken">The discarded worker.</param>
        /// <param name="workerId">The new worker's number, unique within the run.</param>
        /// <returns>The worker, not yet begun.</returns>
        Worker<TIn, TOut> Replace(Worker<TIn, TOut> broken, int workerId);

        /// <summary>
        /// Releases whatever the source still holds (idle pooled workers, say). Called once, after
        /// every worker thread has exited or has been abandoned as stuck; an abandoned worker's
        /// <c>End</c> may therefore still run after this call, when its thread comes back.
        /// </summary>
        void CloseAll();
    }
}
