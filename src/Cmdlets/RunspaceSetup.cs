using System;
using System.Collections.Generic;
using System.Management.Automation.Runspaces;

namespace ParallelMap.Commands
{
    /// <summary>What every runspace of one run shares: the session template and the scripts.</summary>
    internal sealed class RunspaceSetup
    {
        internal RunspaceSetup(InitialSessionState template, string itemScript, string? initializationScript, string? cleanupScript)
        {
            Template = template;
            ItemScript = itemScript;
            InitializationScript = initializationScript;
            CleanupScript = cleanupScript;
        }

        /// <summary>Variables (shared by reference), functions, modules and preferences; cloned per runspace.</summary>
        internal InitialSessionState Template { get; }

        /// <summary>The per-item script, with the item code in its process block.</summary>
        internal string ItemScript { get; }

        internal string? InitializationScript { get; }

        internal string? CleanupScript { get; }

        /// <summary>Modules (resolved paths or names) each runspace imports before the initialization script.</summary>
        internal IReadOnlyList<string> Modules { get; set; } = Array.Empty<string>();

        /// <summary>When set, each item's results are serialized (CliXml, this depth) on the worker's thread and attached to its outcome.</summary>
        internal int? ResultDepth { get; set; }

        /// <summary>
        /// With <see cref="ResultDepth"/>, when nothing needs an item's live outputs afterwards: where
        /// a big result goes as it is written (<see cref="SpillingResult"/>); the outcome then carries
        /// only its payload (bytes or the spill), not the objects.
        /// </summary>
        internal Func<ParallelMap.Engine.Checkpoint.ResultSpill>? NewSpill { get; set; }

        /// <summary>Variables whose value is a script block, as text: each runspace makes its own from it (see <see cref="CrossingScriptBlocks"/>).</summary>
        internal IReadOnlyList<KeyValuePair<string, string>> ScriptBlockVariables { get; set; } = Array.Empty<KeyValuePair<string, string>>();

        /// <summary>
        /// A pool's own script-block variables (its -Variable and $using: values), as text: made
        /// in each of its runspaces as it opens, before its modules and initialization script,
        /// and kept for the runspace's life.
        /// </summary>
        internal IReadOnlyList<KeyValuePair<string, string>> PoolScriptBlockVariables { get; set; } = Array.Empty<KeyValuePair<string, string>>();

        /// <summary>The caller's current file-system location, where each runspace starts.</summary>
        internal string? WorkingDirectory { get; set; }

        /// <summary>For a call given -Pool, where runspaces are borrowed from; the template, modules and scripts are then the pool's.</summary>
        internal IRunspaceLender? Lender { get; set; }
    }
}
