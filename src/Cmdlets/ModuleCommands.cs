using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace ParallelMap.Commands
{
    /// <summary>
    /// The module's own cmdlets, for every worker runspace, so that an item can start a nested
    /// run however the caller loaded the module: by name it autoloads, but imported by path (from
    /// a folder outside <c>$env:PSModulePath</c>) it was "not recognized" in the runspaces
    /// (issue 10). Cmdlet entries cost nothing measurable at Open, where importing the module
    /// into each runspace would read its manifest and load its assemblies again per runspace.
    /// </summary>
    internal static class ModuleCommands
    {
        /// <summary>The MAML help file the module ships (in its culture folders), by name as a module's cmdlets name it.</summary>
        private const string HelpFileName = "ParallelMap.dll-Help.xml";

        private static readonly Lazy<IReadOnlyList<(string Name, Type Type)>> Cmdlets = new Lazy<IReadOnlyList<(string, Type)>>(Find);

        /// <summary>Adds each cmdlet of this assembly the template does not already have.</summary>
        internal static void AddTo(InitialSessionState iss)
        {
            var present = new HashSet<string>(iss.Commands.Select(c => c.Name), StringComparer.OrdinalIgnoreCase);
            foreach (var (name, type) in Cmdlets.Value)
            {
                if (present.Contains(name)) continue;
                iss.Commands.Add(new SessionStateCmdletEntry(name, type, HelpFileName));
            }
        }

        private static IReadOnlyList<(string, Type)> Find()
        {
            var found = new List<(string, Type)>();
            foreach (Type t in typeof(ModuleCommands).Assembly.GetExportedTypes())
            {
                if (t.IsAbstract || !typeof(Cmdlet).IsAssignableFrom(t)) continue;
                if (Attribute.GetCustomAttribute(t, typeof(CmdletAttribute)) is CmdletAttribute a)
                {
                    found.Add((a.VerbName + "-" + a.NounName, t));
                }
            }

            return found;
        }
    }
}
