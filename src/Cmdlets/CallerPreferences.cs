using System;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Reflection;

namespace ParallelMap.Commands
{
    /// <summary>
    /// Caller preferences that the stream preferences in <see cref="ParallelCommandBase"/> do not
    /// cover: -WhatIf and -Confirm, and how forwarded records are written on the caller's side.
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
