using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace ParallelMap.Commands
{
    /// <summary>
    /// What goes into a run's runspace template from the caller's parameters, checked: -Variable
    /// names, -Function definitions, -Module names resolved to what the runspaces import. Used by
    /// the run cmdlets and New-ParallelPool alike.
    /// </summary>
    internal static class RunspaceTemplate
    {
        private static readonly HashSet<string> ReservedNames = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "_", "PSItem", "args", "input", "this", "true", "false", "null", "Error", "Host", "PID", "PSVersionTable",
            "HOME", "PSHOME", "ExecutionContext", "MyInvocation", "PSBoundParameters", "PSCmdlet", "PSScriptRoot",
            "PSCommandPath", "Matches", "LASTEXITCODE", "ShellId", "StackTrace", "Event", "EventArgs", "EventSubscriber",
            "Sender", "ForEach", "NestedPromptLevel", "PSDebugContext", "PSSenderInfo", "Profile", "PWD", "IsLinux",
            "IsMacOS", "IsWindows", "IsCoreCLR", "ConsoleFileName", "EnabledExperimentalFeatures", "PSCulture", "PSUICulture",
            "PSEdition", "Switch", "ErrorActionPreference", "WarningPreference", "VerbosePreference", "DebugPreference",
            "InformationPreference", "ProgressPreference", "ConfirmPreference", "WhatIfPreference",
        };

        /// <summary>Refuses a -Variable name no script could reach, or a reserved one.</summary>
        internal static void ValidateVariableName(string name)
        {
            if (name.Trim().Length == 0 || name.IndexOf(':') >= 0 || name.Trim().Length != name.Length)
            {
                // env:X or global:x would make a variable no script can reach.
                throw new CommandErrorException(new ErrorRecord(new ArgumentException(UserText.Format(Strings.VariableNameInvalid, name)), ErrorIds.VariableNameInvalidId, ErrorCategory.InvalidArgument, name));
            }

            if (ReservedNames.Contains(name) || name.StartsWith("__pm", StringComparison.OrdinalIgnoreCase))
            {
                throw new CommandErrorException(new ErrorRecord(new ArgumentException(UserText.Format(Strings.VariableNameReserved, name)), ErrorIds.VariableNameReservedId, ErrorCategory.InvalidArgument, name));
            }
        }

        /// <summary>The -Variable entries by name, each name checked (ErrorIds VariableNameInvalid, VariableNameReserved).</summary>
        internal static List<KeyValuePair<string, object?>> VariableEntries(Hashtable? variable)
        {
            var variables = new List<KeyValuePair<string, object?>>();
            if (variable is null) return variables;
            foreach (DictionaryEntry entry in variable)
            {
                string name = entry.Key?.ToString() ?? string.Empty;
                ValidateVariableName(name);
                variables.Add(new KeyValuePair<string, object?>(name, entry.Value));
            }

            return variables;
        }

        /// <summary>Adds the caller's functions named by -Function to a runspace template.</summary>
        internal static void AddFunctionEntries(InitialSessionState iss, CommandInvocationIntrinsics invoke, string[]? names)
        {
            foreach (string name in names ?? Array.Empty<string>())
            {
                var fn = invoke.GetCommand(name, CommandTypes.Function | CommandTypes.Filter) as FunctionInfo;
                if (fn is null)
                {
                    throw new CommandErrorException(new ErrorRecord(new ItemNotFoundException(UserText.Format(Strings.FunctionNotFound, name)), ErrorIds.FunctionNotFoundId, ErrorCategory.ObjectNotFound, name));
                }

                iss.Commands.Add(new SessionStateFunctionEntry(fn.Name, fn.Definition));
            }
        }

        /// <summary>A module path stays a path (made absolute); a name must be known to Get-Module.</summary>
        internal static string ResolveModule(PSCmdlet cmdlet, string name)
        {
            string candidate = name;
            try
            {
                candidate = cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(name);
            }
            catch (Exception)
            {
                // Not a path; treated as a module name below.
            }

            if (File.Exists(candidate) || Directory.Exists(candidate)) return candidate;
            System.Collections.ObjectModel.Collection<PSObject> found;
            try
            {
                found = cmdlet.InvokeCommand.InvokeScript("param($n) @(Get-Module -Name $n) + @(Get-Module -ListAvailable -Name $n)", true, PipelineResultTypes.None, null, name);
            }
            catch (RuntimeException)
            {
                // Get-Module refuses some names outright (a path that does not exist, say).
                found = new System.Collections.ObjectModel.Collection<PSObject>();
            }

            if (found.Count == 0 || found[0] is null)
            {
                throw new CommandErrorException(new ErrorRecord(new ItemNotFoundException(UserText.Format(Strings.ModuleNotFound, name)), ErrorIds.ModuleNotFoundId, ErrorCategory.ObjectNotFound, name));
            }

            // Imported by the path the caller's module came from: a module the caller loaded from a
            // file outside PSModulePath is found by name only in the caller's session.
            string? path = (found[0].BaseObject as PSModuleInfo)?.Path;
            return path is not null && File.Exists(path) ? path : name;
        }
    }
}
