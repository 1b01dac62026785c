using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Threading;

namespace ParallelMap.Commands
{
    /// <summary>
    /// What every worker process of one run receives, as plain data that crosses the process
    /// boundary serialized: it is read off the in-process <see cref="RunspaceSetup"/>, so both
    /// isolation kinds are built by the same code and cannot drift apart.
    /// </summary>
    internal sealed class ProcessSetup
    {
        /// <summary>How many variables and commands InitialSessionState.CreateDefault() holds: those after them are the run's own.</summary>
        private static readonly Lazy<(int Variables, int Commands)> DefaultCounts = new Lazy<(int, int)>(() =>
        {
            InitialSessionState d = InitialSessionState.CreateDefault();
            return (d.Variables.Count, d.Commands.Count);
        });

        /// <summary>Live objects whose serialized copy would be a meaningless property bag.</summary>
        private static readonly Type[] Live =
        {
            typeof(Runspace), typeof(RunspacePool), typeof(PowerShell), typeof(Stream), typeof(TextReader), typeof(TextWriter),
            typeof(WaitHandle), typeof(Thread), typeof(System.Threading.Tasks.Task), typeof(System.Diagnostics.Process),
        };

        private ProcessSetup(RunspaceSetup setup)
        {
            ItemScript = setup.ItemScript;
            InitializationScript = setup.InitializationScript;
            CleanupScript = setup.CleanupScript;
            Modules = new List<string>(setup.Modules).ToArray();
            WorkingDirectory = setup.WorkingDirectory;
            ResultDepth = setup.ResultDepth;

            // Script-block variables travel as text, as functions do, and are made again in the child.
            foreach (var pair in setup.ScriptBlockVariables) ScriptBlocks[pair.Key] = pair.Value;
        }

        /// <summary>Variables that hold script blocks, as text.</summary>
        internal Hashtable ScriptBlocks { get; } = new Hashtable(StringComparer.OrdinalIgnoreCase);

        internal string ItemScript { get; }

        internal string? InitializationScript { get; }

        internal string? CleanupScript { get; }

        internal string[] Modules { get; }

        internal string? WorkingDirectory { get; set; }

        internal int? ResultDepth { get; }

        /// <summary>Variables ($using: values, -Variable, preferences), in the order the template defines them (a later one wins).</summary>
        internal Hashtable Variables { get; } = new Hashtable(StringComparer.OrdinalIgnoreCase);

        /// <summary>Function definitions, as text.</summary>
        internal Hashtable Functions { get; } = new Hashtable(StringComparer.OrdinalIgnoreCase);

        /// <summary>Recycle a worker process after this many items (0: never).</summary>
        internal int MaxItemsPerWorker { get; set; }

        /// <summary>Recycle a worker process whose working set grew past this many bytes (0: never).</summary>
        internal long MaxWorkingSetBytes { get; set; }

        /// <summary>Reads the run's own entries off the in-process template; refuses a live object with ErrorId VariableNotSerializable.</summary>
        internal static ProcessSetup From(RunspaceSetup setup)
        {
            var result = new ProcessSetup(setup);
            var (defaultVariables, defaultCommands) = DefaultCounts.Value;
            InitialSessionState iss = setup.Template;
            for (int i = defaultVariables; i < iss.Variables.Count; i++)
            {
                SessionStateVariableEntry v = iss.Variables[i];
                object? value = v.Value;
                object? bare = value is PSObject pso ? pso.BaseObject : value;
                foreach (Type t in Live)
                {
                    if (bare is not null && t.IsInstanceOfType(bare))
                    {
                        throw new CommandErrorException(new ErrorRecord(
                            new ArgumentException(UserText.Format(Strings.VariableNotSerializable, v.Name.StartsWith("__pmUsing_", StringComparison.Ordinal) ? "$using:" : v.Name, t.Name)),
                            ErrorIds.VariableNotSerializableId,
                            ErrorCategory.InvalidArgument,
                            v.Name));
                    }
                }

                // An enum crosses as its number with a type name the child may not rehydrate; as its name it converts back.
                result.Variables[v.Name] = bare is Enum ? bare.ToString() : value;
            }

            for (int i = defaultCommands; i < iss.Commands.Count; i++)
            {
                if (iss.Commands[i] is SessionStateFunctionEntry f) result.Functions[f.Name] = f.Definition;
            }

            return result;
        }
    }
}
