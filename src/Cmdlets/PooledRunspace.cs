using System;
using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace ParallelMap.Commands
{
    /// <summary>
    /// One runspace of a pool, with the state its initialization left: the global variables (name
    /// and value) and the function names, taken once, right after the pool's modules and
    /// initialization script ran in it.
    /// </summary>
    /// <remarks>
    /// What <see cref="Reset"/> restores after each call, so nothing one call's items set reaches
    /// the next call (as ForEach-Object -Parallel's runspace reuse resets variables): every global
    /// variable the initialization did not make is removed (a call's -Variable and <c>$using:</c>
    /// values, the preferences it set, and whatever its items put in the global scope); every
    /// global variable it did make is set back to the very object it held then (the object is not
    /// copied: an item that changed that object's contents changed it for later calls too); every
    /// function it did not define is removed; <c>$Error</c> is emptied. Kept: imported modules
    /// and the loaded assemblies and types (they cannot be unloaded), environment variables, and
    /// anything outside the runspace. The location is set per call, to the caller's.
    /// Used by one thread at a time: the worker that holds it, or the pool while it is idle.
    /// </remarks>
    internal sealed class PooledRunspace
    {
        private readonly Dictionary<string, object?> _variables = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
        private readonly HashSet<string> _functions = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        private readonly GlobalScopeView _view;

        internal PooledRunspace(Runspace runspace)
        {
            Runspace = runspace;
            _view = new GlobalScopeView(runspace);
            foreach (PSVariable v in _view.Variables()) _variables[v.Name] = v.Value;
            foreach (string f in _view.FunctionNames()) _functions.Add(f);
        }

        internal Runspace Runspace { get; }

        /// <summary>When it last went idle (UTC), for the pool's idle timeout.</summary>
        internal DateTime IdleSince { get; set; } = DateTime.UtcNow;

        /// <summary>Sets the call's variables and defines its functions (an Invoke-ParallelRun's script blocks), in the global scope.</summary>
        internal void Enter(InitialSessionState call)
        {
            SessionStateProxy proxy = Runspace.SessionStateProxy;
            Dictionary<string, PSVariable>? existing = null;
            foreach (SessionStateVariableEntry v in call.Variables)
            {
                // A variable the runspace has (each preference) takes the value directly: about a
                // tenth of the cost of SetVariable, which looks the name up through every scope.
                existing ??= _view.VariablesByName();
                if (existing.TryGetValue(v.Name, out PSVariable? have) && (have.Options & (ScopedItemOptions.ReadOnly | ScopedItemOptions.Constant)) == 0 && have.Attributes.Count == 0)
                {
                    have.Value = v.Value;
                }
                else
                {
                    proxy.SetVariable(v.Name, v.Value);
                }
            }

            foreach (SessionStateCommandEntry c in call.Commands)
            {
                if (c is SessionStateFunctionEntry f) proxy.SetVariable("function:" + f.Name, ScriptBlock.Create(f.Definition));
            }
        }

        /// <summary>Puts the runspace back to the state its initialization left (see the remarks). Throws if it cannot.</summary>
        internal void Reset()
        {
            SessionStateProxy proxy = Runspace.SessionStateProxy;
            foreach (PSVariable v in _view.Variables())
            {
                if ((v.Options & (ScopedItemOptions.Constant | ScopedItemOptions.AllScope)) != 0) continue;
                if (!_variables.TryGetValue(v.Name, out object? initial))
                {
                    if ((v.Options & ScopedItemOptions.ReadOnly) == 0)
                    {
                        proxy.PSVariable.Remove(v.Name);
                    }
                    else
                    {
                        // Forced, so that a variable a call made read-only goes too.
                        proxy.InvokeProvider.Item.Remove(new[] { "variable:\\" + v.Name }, false, true, true);
                    }
                }
                else if (!ReferenceEquals(initial, v.Value) && (v.Options & ScopedItemOptions.ReadOnly) == 0)
                {
                    try
                    {
                        v.Value = initial;
                    }
                    catch (Exception e) when (e is SessionStateException || e is ArgumentException || e is ValidationMetadataException || e is PSInvalidOperationException)
                    {
                        // An automatic variable that refuses assignment ($? and the like): PowerShell sets it itself.
                    }
                }
            }

            foreach (string f in _view.FunctionNames())
            {
                if (!_functions.Contains(f)) proxy.InvokeProvider.Item.Remove(new[] { "function:\\" + f }, false, true, true);
            }

            if (proxy.PSVariable.GetValue("Error") is IList errors) errors.Clear();
        }

        /// <summary>Runs the cleanup script (if any and the runspace is still usable), then closes the runspace; returns what the script wrote.</summary>
        internal List<object> Close(string? cleanup)
        {
            var written = new List<object>();
            try
            {
                if (cleanup is not null && Runspace.RunspaceStateInfo.State == RunspaceState.Opened)
                {
                    using var ps = PowerShell.Create();
                    ps.Runspace = Runspace;
                    ps.AddScript(cleanup, useLocalScope: false);
                    try
                    {
                        foreach (PSObject o in ps.Invoke())
                        {
                            if (o is not null) written.Add(o);
                        }
                    }
                    catch (RuntimeException e)
                    {
                        written.Add(e.ErrorRecord);
                    }

                    written.AddRange(ps.Streams.Error);
                }
            }
            finally
            {
                Runspace.Dispose();
            }

            return written;
        }
    }
}
