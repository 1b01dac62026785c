using System.Management.Automation.Runspaces;

namespace ParallelMap.Commands
{
    /// <summary>
    /// Where a <see cref="RunspaceWorker"/> of a pooled call gets its runspace and where it gives
    /// it back; without one (a call without -Pool) the worker opens its own and closes it at its end.
    /// Every member is called on the worker's own thread, which is the runspace's pipeline thread.
    /// </summary>
    internal interface IRunspaceLender
    {
        /// <summary>An idle runspace of the pool, its initialization already run; or null, and the worker opens one from its setup.</summary>
        /// <param name="workerId">The worker's number in its call, for the new runspace's name.</param>
        /// <returns>The runspace, or null.</returns>
        Runspace? Borrow(int workerId);

        /// <summary>The name of a runspace the worker opens for the pool (runspaces of a pool outlive the call, so their names say the pool).</summary>
        /// <returns>The name.</returns>
        string NewRunspaceName();

        /// <summary>Called once the worker opened a new runspace and ran the pool's modules and initialization: takes the state to reset to after each call.</summary>
        /// <param name="runspace">The runspace.</param>
        void Adopt(Runspace runspace);

        /// <summary>Applies the call's own settings (its variables, <c>$using:</c> values, preferences and functions) before the call's first item.</summary>
        /// <param name="runspace">The runspace.</param>
        void Enter(Runspace runspace);

        /// <summary>
        /// Takes the runspace back at the worker's end. A healthy one is reset (what the call made
        /// is removed) and kept idle; returns false when it is not kept, and the worker then runs the
        /// cleanup script and closes it as an unpooled runspace. Called once for every
        /// <see cref="Borrow"/>, with null when opening the runspace failed.
        /// </summary>
        /// <param name="runspace">The runspace, or null if none was opened.</param>
        /// <param name="healthy">False after a timeout, a stop, a failed begin or a broken invocation.</param>
        /// <returns>True when the pool kept it.</returns>
        bool TryReturn(Runspace? runspace, bool healthy);
    }
}
