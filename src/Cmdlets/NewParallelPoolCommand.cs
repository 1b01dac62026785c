using System;
using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace ParallelMap.Commands
{
    /// <summary>
    /// <para type="synopsis">Makes a pool of runspaces that several calls reuse: each runspace is opened, and its modules and initialization script run, once.</para>
    /// </summary>
    [Cmdlet(VerbsCommon.New, "ParallelPool")]
    [OutputType(typeof(ParallelPool))]
    public sealed class NewParallelPoolCommand : PSCmdlet
    {
        /// <summary>The most runspaces the pool opens (its size); with -Session, the most connections to each session's host. Default: the processor count.</summary>
        [Parameter]
        [ValidateRange(1, 1024)]
        public int ThrottleLimit { get; set; } = Environment.ProcessorCount;

        /// <summary>Runs once in each runspace when it opens; what it defines stays for every call.</summary>
        [Parameter]
        [ValidateNotNull]
        public ScriptBlock? InitializationScript { get; set; }

        /// <summary>Runs once in each runspace when it closes (Remove-ParallelPool, idle timeout, or after a timeout or Ctrl-C broke it).</summary>
        [Parameter]
        [ValidateNotNull]
        public ScriptBlock? CleanupScript { get; set; }

        /// <summary>Modules (names or paths) imported once in each runspace, before the initialization script.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? Module { get; set; }

        /// <summary>Functions of the calling session defined in each runspace.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? Function { get; set; }

        /// <summary>Variables defined in each runspace for its whole life; the values are shared by reference.</summary>
        [Parameter]
        [ValidateNotNull]
        public Hashtable? Variable { get; set; }

        /// <summary>Seconds a runspace may stay idle before it closes (it opens again when a call needs it); 0 (default) keeps it until the pool closes.</summary>
        [Parameter]
        [Alias("IdleTimeout")]
        [ValidateRange(0.0, 2147483.0)]
        public double IdleTimeoutSeconds { get; set; }

        /// <summary>
        /// Remote sessions whose hosts the pool keeps connections to: -ThrottleLimit connections
        /// per session, each opened and set up (modules, functions, variables, initialization)
        /// once, then reused by every call given -Pool. The sessions themselves are only read.
        /// </summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public PSSession[]? Session { get; set; }

        /// <summary>
        /// Process: the pool keeps -ThrottleLimit worker processes instead of runspaces, each
        /// started and set up once, then reused by every call given -Pool (crash isolation without
        /// a process start per call). Runspace (default): runspaces of this process.
        /// </summary>
        [Parameter]
        public WorkerIsolation Isolation { get; set; } = WorkerIsolation.Runspace;

        /// <summary>Builds the pool's runspace template; every bad argument fails here. No runspace opens until a call needs one.</summary>
        protected override void EndProcessing()
        {
            try
            {
                var usingValues = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
                string? init = InitializationScript is null ? null : ScriptPreparer.RewriteUsing(InitializationScript, SessionState, usingValues, allowEmpty: true);
                string? cleanup = CleanupScript is null ? null : ScriptPreparer.RewriteUsing(CleanupScript, SessionState, usingValues, allowEmpty: true);
                if (Session is not null && MyInvocation.BoundParameters.ContainsKey(nameof(IdleTimeoutSeconds)))
                {
                    throw new CommandErrorException(new ErrorRecord(new ArgumentException(UserText.Format(Strings.SessionConflict, nameof(IdleTimeoutSeconds), Strings.ConflictIdleTimeout)), ErrorIds.SessionParameterConflictId, ErrorCategory.InvalidArgument, nameof(IdleTimeoutSeconds)));
                }

                bool processes = Isolation == WorkerIsolation.Process;
                if (processes && Session is not null)
                {
                    throw new CommandErrorException(new ErrorRecord(new ArgumentException(UserText.Format(Strings.SessionConflict, nameof(Isolation), Strings.ConflictIsolation)), ErrorIds.SessionParameterConflictId, ErrorCategory.InvalidArgument, nameof(Isolation)));
                }

                if (processes && MyInvocation.BoundParameters.ContainsKey(nameof(IdleTimeoutSeconds)))
                {
                    throw new CommandErrorException(new ErrorRecord(new ArgumentException(Strings.ProcessPoolIdleTimeout), ErrorIds.PoolSettingConflictId, ErrorCategory.InvalidArgument, nameof(IdleTimeoutSeconds)));
                }

                var modules = new List<string>();
                // A remote host imports modules from its own module path: the names go as given.
                foreach (string name in Module ?? Array.Empty<string>()) modules.Add(Session is null ? RunspaceTemplate.ResolveModule(this, name) : name);

                // The same template as a call's without -Pool, less the preferences: each call sets its own.
                InitialSessionState iss = InitialSessionState.CreateDefault();
                SharedTables.Apply(iss);

                // The module's own cmdlets, so that an item can make a nested (pooled) call.
                ModuleCommands.AddTo(iss);
                // As in a call: values shared by reference, script blocks rebound in each runspace
                // (one bound to this runspace, run from the pool's threads, corrupts it), and
                // script blocks inside shared values refused (ErrorId NestedScriptBlockNotSupported).
                var scriptBlocks = SharedValues.Add(iss, RunspaceTemplate.VariableEntries(Variable), usingValues, SessionState);
                RunspaceTemplate.AddFunctionEntries(iss, InvokeCommand, Function);
                iss.Variables.Add(new SessionStateVariableEntry("PSModuleAutoLoadingPreference", SessionState.PSVariable.GetValue("PSModuleAutoLoadingPreference"), string.Empty));
                TimeSpan? idle = IdleTimeoutSeconds > 0 ? TimeSpan.FromSeconds(IdleTimeoutSeconds) : (TimeSpan?)null;
                ChannelPool? channels = Session is not null || processes ? MakeChannels(iss, modules, init, cleanup, scriptBlocks) : null;
                int size = channels?.Sessions is PSSession[] sessions ? ThrottleLimit * sessions.Length : ThrottleLimit;
                var pool = new ParallelPool(PoolRegistry.NextId(), size, idle, iss, modules, init, cleanup) { Owner = Runspace.DefaultRunspace, Channels = channels, ScriptBlockVariables = scriptBlocks };
                PoolRegistry.Add(pool);
                WriteObject(pool);
            }
            catch (CommandErrorException e)
            {
                ThrowTerminatingError(e.Record);
            }
        }

        /// <summary>
        /// The pool's connections (-Session: the sessions checked, ErrorId SessionNotUsable) or
        /// worker processes (-Isolation Process), and its set-up as it crosses to them (ErrorId
        /// VariableNotSerializable); nothing connects or starts yet.
        /// </summary>
        private ChannelPool MakeChannels(InitialSessionState iss, List<string> modules, string? init, string? cleanup, IReadOnlyList<KeyValuePair<string, string>> scriptBlocks)
        {
            foreach (PSSession s in Session ?? Array.Empty<PSSession>()) SessionSlot.Check(s);
            ProcessSetup setup = ProcessSetup.From(new RunspaceSetup(iss, string.Empty, init, cleanup) { Modules = modules, ScriptBlockVariables = scriptBlocks });

            // Each call sets its own location; a worker process starts in the pool maker's.
            setup.WorkingDirectory = Session is null ? SessionState.Path.CurrentFileSystemLocation.ProviderPath : null;
            return new ChannelPool((PSSession[]?)Session?.Clone(), ThrottleLimit, setup);
        }
    }
}
