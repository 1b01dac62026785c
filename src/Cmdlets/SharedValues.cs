using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace ParallelMap.Commands
{
    /// <summary>
    /// Puts the values of <c>$using:</c> and <c>-Variable</c> into the runspace template, shared by
    /// reference, except script blocks (see <see cref="CrossingScriptBlocks"/>): those become
    /// text that each runspace turns into a script block of its own at Open
    /// (<see cref="RunspaceSetup.ScriptBlockVariables"/>).
    /// </summary>
    internal static class SharedValues
    {
        /// <summary>
        /// Adds the variables to <paramref name="iss"/> and returns the script blocks to rebind, by
        /// variable name. A rebound script block's own <c>$using:</c> references are resolved in
        /// the caller's scope, as the main script's are (they may add to <paramref name="usingValues"/>).
        /// </summary>
        /// <param name="iss">The runspace template.</param>
        /// <param name="variables">The validated -Variable entries, by name.</param>
        /// <param name="usingValues">The private <c>$using:</c> variables and their values.</param>
        /// <param name="callerState">Where <c>$using:</c> values are read.</param>
        internal static IReadOnlyList<KeyValuePair<string, string>> Add(InitialSessionState iss, IEnumerable<KeyValuePair<string, object?>> variables, Dictionary<string, object?> usingValues, SessionState callerState)
        {
            var scriptBlocks = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var pair in variables)
            {
                if (CrossingScriptBlocks.AsScriptBlock(pair.Value) is ScriptBlock sb)
                {
                    scriptBlocks[pair.Key] = ScriptPreparer.RewriteUsing(sb, callerState, usingValues, allowEmpty: true);
                    continue;
                }

                Refuse(pair.Value, "-Variable '" + pair.Key + "'");

                // The entry holds the object itself: every runspace sees the same instance.
                iss.Variables.Add(new SessionStateVariableEntry(pair.Key, pair.Value, "ParallelMap -Variable"));
            }

            // Rewriting a script block may add the values of its own $using: references.
            var done = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            while (true)
            {
                var pending = usingValues.Where(p => !done.Contains(p.Key)).ToList();
                if (pending.Count == 0) break;
                foreach (var pair in pending)
                {
                    done.Add(pair.Key);
                    if (CrossingScriptBlocks.AsScriptBlock(pair.Value) is ScriptBlock sb)
                    {
                        scriptBlocks[pair.Key] = ScriptPreparer.RewriteUsing(sb, callerState, usingValues, allowEmpty: true);
                        continue;
                    }

                    Refuse(pair.Value, "$using:" + UsingNames.Decode(pair.Key));
                    iss.Variables.Add(new SessionStateVariableEntry(pair.Key, pair.Value, "$using: value"));
                }
            }

            return scriptBlocks.ToList();
        }

        private static void Refuse(object? value, string what)
        {
            if (CrossingScriptBlocks.FindNested(value, CrossingScriptBlocks.SharedValueBudget) is string path)
            {
                throw new CommandErrorException(CrossingScriptBlocks.NestedRecord(what, path, value));
            }
        }
    }
}
