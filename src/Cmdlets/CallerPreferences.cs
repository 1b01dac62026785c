using System;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Reflection;

namespace ParallelMap.Commands
{
    /// <summary>
    /// The caller's preferences as the runspaces get them: the stream preferences, -WhatIf and
    /// -Confirm; and how forwarded records are written on the caller's side.
    /// </summary>
    internal static class CallerPreferences
    {
        /// <summary>
        /// Gives the runspaces the caller's <c>$WhatIfPreference</c> and <c>$ConfirmPreference</c>,
        /// so that a SupportsShouldProcess function called with -WhatIf, which pipes into
        /// <c>Invoke-ParallelMap { Remove-Item $_ }</c>, deletes nothing (issue 10: it deleted
        /// everything). -WhatIf or -Confirm given to the cmdlet itself (Start-ResumableBatch has
        /// them) count as they would for an advanced function's callees. A confirmation a worker
        /// would ask for is refused: its runspace has no host to prompt on (see about_ParallelMap).
        /// </summary>
        internal static void AddShouldProcess(InitialSessionState iss, PSCmdlet cmdlet)
        {
            object? whatIf = cmdlet.SessionState.PSVariable.GetValue("WhatIfPreference");
            if (cmdlet.MyInvocation.BoundParameters.TryGetValue("WhatIf", out object? w) && w is SwitchParameter ws) whatIf = ws.IsPresent;
            if (whatIf is not null && LanguagePrimitives.TryConvertTo(whatIf, out bool whatIfOn))
            {
                iss.Variables.Add(new SessionStateVariableEntry("WhatIfPreference", new SwitchParameter(whatIfOn), string.Empty));
            }

            object? confirm = cmdlet.SessionState.PSVariable.GetValue("ConfirmPreference");
            if (cmdlet.MyInvocation.BoundParameters.TryGetValue("Confirm", out object? c) && c is SwitchParameter cs) confirm = cs.IsPresent ? ConfirmImpact.Low : ConfirmImpact.None;
            if (confirm is not null && LanguagePrimitives.TryConvertTo(confirm, out ConfirmImpact impact))
            {
                iss.Variables.Add(new SessionStateVariableEntry("ConfirmPreference", impact, string.Empty));
            }
        }

        /// <summary>
        /// Gives the runspaces the caller's stream preferences ($ErrorActionPreference and the
        /// others), as its -XxxAction parameters and preference variables make them.
        /// </summary>
        internal static void AddStreamPreferences(InitialSessionState iss, PSCmdlet cmdlet)
        {
            // Errors always travel to the caller, where its -ErrorAction and -ErrorVariable apply as
            // for any cmdlet: inside the runspaces only Stop (an error fails the item) differs from
            // Continue (the error is forwarded and the item goes on). SilentlyContinue there would
            // hide them even from -ErrorVariable. The item's code sees the caller's
            // $ErrorActionPreference Stop, as ForEach-Object's script block does, whatever
            // -ErrorAction says; -ErrorAction Stop makes it Stop too, as in an advanced function.
            ActionPreference errorAction = EffectivePreference(cmdlet, "ErrorAction", "ErrorActionPreference", ActionPreference.Continue);
            bool callerStops = cmdlet.SessionState.PSVariable.GetValue("ErrorActionPreference") is object eap
                && LanguagePrimitives.TryConvertTo(eap, out ActionPreference callerPreference) && callerPreference == ActionPreference.Stop;
            AddPreference(iss, "ErrorActionPreference", errorAction == ActionPreference.Stop || callerStops ? ActionPreference.Stop : ActionPreference.Continue);

            // PowerShell 7.3+: with it $true a native program's non-zero exit code is an error
            // (ProgramExitedWithNonZeroCode), terminating only under Stop, as in ForEach-Object.
            if (cmdlet.SessionState.PSVariable.Get("PSNativeCommandUseErrorActionPreference") is PSVariable native)
            {
                iss.Variables.Add(new SessionStateVariableEntry(native.Name, native.Value, string.Empty));
            }
            AddPreference(iss, "WarningPreference", Captured(cmdlet, "WarningVariable", EffectivePreference(cmdlet, "WarningAction", "WarningPreference", ActionPreference.Continue)));
            AddPreference(iss, "InformationPreference", Captured(cmdlet, "InformationVariable", EffectivePreference(cmdlet, "InformationAction", "InformationPreference", ActionPreference.SilentlyContinue)));
            AddPreference(iss, "VerbosePreference", SwitchPreference(cmdlet, "Verbose", "VerbosePreference"));
            AddPreference(iss, "DebugPreference", SwitchPreference(cmdlet, "Debug", "DebugPreference"));
            AddPreference(iss, "ProgressPreference", EffectivePreference(cmdlet, "ProgressAction", "ProgressPreference", ActionPreference.Continue));
        }

        /// <summary>The caller's -XxxAction parameter if given, else its preference variable.</summary>
        internal static ActionPreference EffectivePreference(PSCmdlet cmdlet, string parameter, string variable, ActionPreference fallback)
        {
            if (cmdlet.MyInvocation.BoundParameters.TryGetValue(parameter, out object? bound) && bound is not null)
            {
                if (bound is ActionPreference ap) return ap;
                if (LanguagePrimitives.TryConvertTo(bound, out ActionPreference converted)) return converted;
            }

            object? v = cmdlet.SessionState.PSVariable.GetValue(variable);
            return v is not null && LanguagePrimitives.TryConvertTo(v, out ActionPreference pref) ? pref : fallback;
        }

        /// <summary>
        /// With -WarningVariable or -InformationVariable, a silenced stream still has to reach the
        /// caller, where SilentlyContinue records it into the variable without showing it.
        /// </summary>
        private static ActionPreference Captured(PSCmdlet cmdlet, string variableParameter, ActionPreference preference) =>
            preference == ActionPreference.SilentlyContinue && cmdlet.MyInvocation.BoundParameters.ContainsKey(variableParameter) ? ActionPreference.Continue : preference;

        /// <summary>-Verbose/-Debug map to Continue (or SilentlyContinue with :$false); else the preference variable.</summary>
        private static ActionPreference SwitchPreference(PSCmdlet cmdlet, string parameter, string variable)
        {
            if (cmdlet.MyInvocation.BoundParameters.TryGetValue(parameter, out object? bound) && bound is SwitchParameter sw)
            {
                return sw.IsPresent ? ActionPreference.Continue : ActionPreference.SilentlyContinue;
            }

            object? v = cmdlet.SessionState.PSVariable.GetValue(variable);
            return v is not null && LanguagePrimitives.TryConvertTo(v, out ActionPreference pref) ? pref : ActionPreference.SilentlyContinue;
        }

        private static void AddPreference(InitialSessionState iss, string name, ActionPreference value)
        {
            // No host answers a prompt inside a runspace: Inquire and the debugger's Break run on.
            if (value == ActionPreference.Inquire || (int)value == 6) value = ActionPreference.Continue;
            iss.Variables.Add(new SessionStateVariableEntry(name, value, string.Empty));
        }


        /// <summary>
        /// A record forwarded from a worker is history: the worker did not wait for an answer, so
        /// on the caller's side Inquire means Continue (show it), as a host without prompts already
        /// treats debug records. Without this, -Debug in Windows PowerShell (where it means
        /// Inquire) or <c>$DebugPreference = 'Inquire'</c> prompted on the caller for each record,
        /// and in a -NonInteractive session the first prompt ended the whole run with "PowerShell
        /// is in NonInteractive mode", losing its output (issue 10). The command runtime keeps
        /// these preferences in internal properties, so they are set by reflection; where a
        /// PowerShell lacks one, that stream keeps the default behaviour.
        /// </summary>
        internal static void NeverInquire(ICommandRuntime runtime)
        {
            foreach (string name in new[] { "DebugPreference", "VerbosePreference", "WarningPreference", "InformationPreference" })
            {
                try
                {
                    PropertyInfo? property = runtime.GetType().GetProperty(name, BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);
                    if (property is null || !property.CanWrite || property.PropertyType != typeof(ActionPreference)) continue;
                    if ((ActionPreference)property.GetValue(runtime)! == ActionPreference.Inquire) property.SetValue(runtime, ActionPreference.Continue);
                }
                catch (Exception)
                {
                    // A runtime of another shape (a test host's): its own behaviour stands.
                }
            }
        }
    }
}
