using System;

namespace ParallelMap.Engine
{
    /// <summary>The error that stops a run when a worker cannot start or breaks outside any item.</summary>
    public sealed class WorkerFaultedException : Exception
    {
        /// <summary>Creates the error.</summary>
        /// <param name="workerId">The worker.</param>
        /// <param name="duringBegin">True when the worker's initialization failed.</param>
        /// <param name="inner">What went wrong.</param>
        public WorkerFaultedException(int workerId, bool duringBegin, Exception inner)
            : base(EngineText.Format(duringBegin ? Messages.WorkerBeginFailed : Messages.WorkerExecuteFailed, workerId, inner.Message), inner)
        {
            WorkerId = workerId;
            DuringBegin = duringBegin;
        }

        /// <summary>The worker that failed.</summary>
        public int WorkerId { get; }

        /// <summary>True when the worker's initialization (begin) failed.</summary>
        public bool DuringBegin { get; }
    }
}
