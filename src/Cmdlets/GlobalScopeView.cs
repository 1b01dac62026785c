using System;
using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Reflection;

namespace ParallelMap.Commands
{
    /// <summary>
    /// Lists a runspace's global variables and functions, between invocations, for
    /// <see cref="PooledRunspace"/>'s reset. PowerShell has no public way to list a scope's
    /// variables without a provider or a pipeline, and both are slow (the variable: drive lists
    /// about 50 variables in 2 ms, a pipeline costs about 0.5 ms): per call, that is more than the
    /// whole rest of a pooled call. So the view reads the global scope's own dictionaries
    /// (internal members, the same in Windows PowerShell 5.1 and PowerShell 7: SessionState.Internal,
    /// SessionStateInternal.GlobalScope, SessionStateScope.Variables and GetFunctions), and falls
    /// back to the provider if any of them is missing.
    /// </summary>
    internal sealed class GlobalScopeView
    {
        private const BindingFlags Hidden = BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.Instance;
        private static readonly PropertyInfo? InternalProperty = typeof(SessionState).GetProperty("Internal", Hidden);
        private readonly Runspace _runspace;
        private readonly IDictionary<string, PSVariable>? _variables;
        private readonly Func<IDictionary>? _functions;

        internal GlobalScopeView(Runspace runspace)
        {
            _runspace = runspace;
            try
            {
                // Once per runspace: the session state object lives as long as the runspace.
                using var ps = PowerShell.Create();
                ps.Runspace = runspace;
                var found = ps.AddScript("$ExecutionContext.SessionState").Invoke();
                object? internalState = found.Count > 0 && found[0]?.BaseObject is SessionState state ? InternalProperty?.GetValue(state) : null;
                object? global = internalState?.GetType().GetProperty("GlobalScope", Hidden)?.GetValue(internalState);
                if (global is not null)
                {
                    _variables = global.GetType().GetProperty("Variables", Hidden)?.GetValue(global) as IDictionary<string, PSVariable>;
                    MethodInfo? getFunctions = global.GetType().GetMethod("GetFunctions", Hidden, null, Type.EmptyTypes, null);
                    if (getFunctions is not null && typeof(IDictionary).IsAssignableFrom(getFunctions.ReturnType))
                    {
                        _functions = () => (IDictionary)getFunctions.Invoke(global, null)!;
                    }
                }
            }
            catch (Exception)
            {
                // A PowerShell whose internals differ: the provider below still gives the answer.
                _variables = null;
                _functions = null;
            }
        }

        /// <summary>The global variables (a copy: the caller may remove some while going through it).</summary>
        internal List<PSVariable> Variables()
        {
            var list = new List<PSVariable>();
            if (_variables is not null)
            {
                list.AddRange(_variables.Values);
                return list;
            }

            // At the top level the current scope is the global one: the listing is its variables.
            foreach (PSObject o in _runspace.SessionStateProxy.InvokeProvider.ChildItem.Get("variable:\\", false))
            {
                if (o?.BaseObject is PSVariable v) list.Add(v);
            }

            return list;
        }

        /// <summary>The global variables by name.</summary>
        internal Dictionary<string, PSVariable> VariablesByName()
        {
            var map = new Dictionary<string, PSVariable>(StringComparer.OrdinalIgnoreCase);
            foreach (PSVariable v in Variables()) map[v.Name] = v;
            return map;
        }

        /// <summary>The names of the global functions.</summary>
        internal List<string> FunctionNames()
        {
            var names = new List<string>();
            if (_functions is not null)
            {
                foreach (object key in _functions().Keys) names.Add((string)key);
                return names;
            }

            foreach (PSObject o in _runspace.SessionStateProxy.InvokeProvider.ChildItem.Get("function:\\", false))
            {
                if (o?.BaseObject is FunctionInfo f) names.Add(f.Name);
            }

            return names;
        }
    }
}
