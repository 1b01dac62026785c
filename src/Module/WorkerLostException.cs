using System;

namespace ParallelMap.Engine
{
    /// <summary>
    /// Thrown by a worker, from its begin or from an item, when the place it runs on is gone
    /// through no fault of the item: the connection to a remote host broke, the host is down. The
    /// engine does not fail the item: it goes back to the queue for another worker (the attempt
    /// counts in its number, not against its retries), and so does the rest of the worker's batch.
    /// The worker ends. Its place in the pool is filled again by a new worker unless
    /// <see cref="PlaceLost"/> is set (a worker that keeps failing to begin must say so, or it is
    /// made again and again); when every place is lost while work remains, the run faults with
    /// <see cref="AllWorkersLostException"/>.
    /// </summary>
    public sealed class WorkerLostException : Exception
    {
        /// <summary>Creates the error.</summary>
        /// <param name="message">What was lost (a host's name, say).</param>
        /// <param name="placeLost">True when no new worker can take this one's place (its host is gone).</param>
        /// <param name="inner">The transport's own error, if any.</param>
        public WorkerLostException(string message, bool placeLost, Exception? inner)
            : base(message, inner)
        {
            PlaceLost = placeLost;
        }

        /// <summary>True when the pool shrinks by this worker's place instead of making a new worker.</summary>
        public bool PlaceLost { get; }
    }
}
