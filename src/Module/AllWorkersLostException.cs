using System;

namespace ParallelMap.Engine
{
    /// <summary>The fault of a run whose every worker place was lost (<see cref="WorkerLostException.PlaceLost"/>) while work remained.</summary>
    public sealed class AllWorkersLostException : Exception
    {
        /// <summary>Creates the error.</summary>
        /// <param name="last">The loss of the last place.</param>
        public AllWorkersLostException(WorkerLostException last)
            : base(EngineText.Format(Messages.AllWorkersLost, last.Message), last)
        {
        }
    }
}
