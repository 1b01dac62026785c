using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace ParallelMap.Commands
{
    /// <summary>Remove-Module ParallelMap: closes the pools made in the runspace that removes it, which nothing could reach afterwards.</summary>
    public sealed class ModuleCleanup : IModuleAssemblyCleanup
    {
        /// <summary>Called by PowerShell when the module is removed.</summary>
        /// <param name="psModuleInfo">The module being removed.</param>
        public void OnRemove(PSModuleInfo psModuleInfo) => PoolRegistry.CloseOwnedBy(Runspace.DefaultRunspace);
    }
}
