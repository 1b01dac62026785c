using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using ParallelMap.Engine;
using ParallelMap.Engine.Checkpoint;

namespace ParallelMap.Commands
{
    /// <summary>
    /// What Invoke-ParallelMap, Invoke-ParallelRun and Start-ResumableBatch share: the parameters
    /// of a parallel run, the runspace setup, the engine, and the translation of outcomes and
    /// worker records into writes, which all happen on the pipeline thread.
    /// </summary>
    public abstract class ParallelCommandBase : PSCmdlet, IDisposable, IEngineSink<object?, object?>
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

        private readonly object _disposeLock = new object();
        private ParallelEngine<object?, object?>? _engine;
        private DateTime _lastProgress = DateTime.MinValue;
        private bool _progressShown;
        private bool _disposed;
        private bool _stopping;
        private int _progressId;

        /// <summary>The call's share of -Pool, once reserved.</summary>
        private PoolLease? _lease;

        /// <summary>Cancelled by Ctrl-C: ends a wait for a place in -Pool.</summary>
        private readonly System.Threading.CancellationTokenSource _stopSource = new System.Threading.CancellationTokenSource();

        /// <summary>Runs once in each runspace before its first item; what it defines is visible to every item that runspace runs.</summary>
        [Parameter]
        [ValidateNotNull]
        public ScriptBlock? InitializationScript { get; set; }

        /// <summary>Runs once in each runspace at the end, also after errors and Ctrl-C.</summary>
        [Parameter]
        [ValidateNotNull]
        public ScriptBlock? CleanupScript { get; set; }

        /// <summary>How many runspaces run at once. Default: the processor count.</summary>
        [Parameter]
        [ValidateRange(1, 1024)]
        public int ThrottleLimit { get; set; } = Environment.ProcessorCount;

        /// <summary>Variables defined in every runspace; the values are shared by reference, never copied.</summary>
        [Parameter]
        [ValidateNotNull]
        public Hashtable? Variable { get; set; }

        /// <summary>Functions of the calling session to define in every runspace.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? Function { get; set; }

        /// <summary>Modules (names or paths) imported once in every runspace.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? Module { get; set; }

        /// <summary>The most seconds one attempt of one item may run; its runspace is then stopped and replaced.</summary>
        [Parameter]
        [ValidateRange(0.001, 2147483.0)]
        public double TimeoutSeconds { get; set; }

        /// <summary>How many times a failed item is tried again.</summary>
        [Parameter]
        [ValidateRange(0, 1000)]
        public int RetryCount { get; set; }

        /// <summary>The delay before the first retry, in seconds; it doubles each attempt, with jitter.</summary>
        [Parameter]
        [ValidateRange(0.0, 3600.0)]
        public double RetryDelaySeconds { get; set; } = 1;

        /// <summary>Also retry items that timed out.</summary>
        [Parameter]
        public SwitchParameter RetryTimedOut { get; set; }

        /// <summary>Items handed to a runspace at once; 0 (default) sizes batches automatically.</summary>
        [Parameter]
        [ValidateRange(0, 100000)]
        public int BatchSize { get; set; }

        /// <summary>The number of items expected, so that progress shows an ETA while input still streams.</summary>
        [Parameter]
        [ValidateRange(0L, long.MaxValue)]
        public long TotalCount { get; set; } = -1;

        /// <summary>Where each worker lives: a runspace in this process (default) or a child PowerShell process.</summary>
        [Parameter]
        public WorkerIsolation Isolation { get; set; } = WorkerIsolation.Runspace;

        /// <summary>With -Isolation Process: a worker process is replaced by a fresh one after this many items.</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int MaxItemsPerWorker { get; set; }

        /// <summary>With -Isolation Process: a worker process whose working set grew past this many megabytes is replaced after its current item.</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int MaxWorkerMemoryMB { get; set; }

        /// <summary>
        /// Remote sessions (New-PSSession -HostName or -ComputerName) to spread the items over:
        /// -ThrottleLimit workers on each, every worker a runspace of its own on that session's host
        /// (one more connection to it). The sessions themselves stay free and open.
        /// </summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public PSSession[]? Session { get; set; }

        /// <summary>With -Session: outputs get no PSComputerName note property.</summary>
        [Parameter]
        public SwitchParameter NoComputerName { get; set; }

        /// <summary>
        /// A pool from New-ParallelPool: the call runs on its runspaces, already open and
        /// initialized, and gives them back at its end. The pool's settings (modules, functions,
        /// scripts, variables) stay; the call's own -Variable, <c>$using:</c> values and
        /// preferences apply to this call only.
        /// </summary>
        [Parameter]
        [ValidateNotNull]
        public ParallelPool? Pool { get; set; }

        /// <summary>When set, results are serialized to CliXml at this depth on the worker threads (see <see cref="ItemOutcome{TIn, TOut}.Attachment"/>).</summary>
        private protected virtual int? ResultSerializationDepth => null;

        /// <summary>With <see cref="ResultSerializationDepth"/>: where a big item result is spilled as it is written (<see cref="RunspaceSetup.NewSpill"/>), or null to keep results whole.</summary>
        private protected virtual Func<ResultSpill>? ResultSpillSource => null;

        /// <summary>The name the progress bar shows.</summary>
        protected virtual string ProgressActivity => MyInvocation.MyCommand.Name;

        /// <summary>The engine, once BeginProcessing created it.</summary>
        private protected ParallelEngine<object?, object?> Engine => _engine ?? throw new InvalidOperationException();

        /// <summary>The script that runs per item, as the derived cmdlet defines it.</summary>
        private protected abstract ScriptBlock ItemScriptBlock { get; }

        /// <summary>The user's script block that runs <paramref name="input"/>, whose position an error placed at its call shows.</summary>
        /// <param name="input">The item.</param>
        private protected virtual System.Management.Automation.Language.IScriptExtent? UserBlockOf(object? input) => ItemScriptBlock.Ast?.Extent;

        /// <summary>True to keep input order.</summary>
        private protected virtual bool KeepOrder => false;

        /// <summary>
        /// Builds the runspace setup (variables, functions, modules, preferences, <c>$using:</c>)
        /// and the engine. Every bad argument fails here, before any item runs.
        /// </summary>
        protected override void BeginProcessing()
        {
            CallerPreferences.NeverInquire(CommandRuntime);
            try
            {
                ProcessWorkerSource.CheckParameters(Isolation, MyInvocation.BoundParameters, Session is not null);
                if (Session is not null) RemoteWorkerSource.CheckParameters(MyInvocation.BoundParameters);
                var usingValues = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
                string itemScript = PrepareItemScript(usingValues);
                string? init = InitializationScript is null ? null : ScriptPreparer.RewriteUsing(InitializationScript, SessionState, usingValues, allowEmpty: true);
                string? cleanup = CleanupScript is null ? null : ScriptPreparer.RewriteUsing(CleanupScript, SessionState, usingValues, allowEmpty: true);
                if (Pool is ParallelPool pool)
                {
                    BeginPooled(pool, itemScript, usingValues);
                    return;
                }

                var modules = new List<string>();
                // A remote host imports modules from its own module path: the names go as given.
                foreach (string name in Module ?? Array.Empty<string>()) modules.Add(Session is null ? ResolveModule(this, name) : name);
                var setup = new RunspaceSetup(BuildSessionTemplate(usingValues, out var scriptBlocks), itemScript, init, cleanup)
                {
                    Modules = modules,
                    ScriptBlockVariables = scriptBlocks,

                    // Relative paths in the script resolve as they would in the caller (as ForEach-Object -Parallel does).
                    WorkingDirectory = SessionState.Path.CurrentFileSystemLocation.ProviderPath,
                    ResultDepth = ResultSerializationDepth,
                    NewSpill = ResultSpillSource,
                };
                var options = BuildOptions();

                // A batch handed to a worker process costs a round trip to it: hand over more at once.
                if (Isolation == WorkerIsolation.Process && BatchSize == 0) options.TargetBatchDuration = ProcessWorkerSource.TargetBatchDuration;
                _progressId = Math.Abs(GetHashCode() % 100000) + 1;
                if (Session is not null)
                {
                    var remote = RemoteWorkerSource.For(setup, Session, ThrottleLimit, !NoComputerName);
                    RemoteWorkerSource.Tune(options, BatchSize);
                    options.ThrottleLimit = ThrottleLimit * remote.SessionCount;
                    _engine = ParallelEngine.CreateWithSource<object?, object?>(options, remote, this);
                    return;
                }

                _engine = Isolation == WorkerIsolation.Process
                    ? ParallelEngine.CreateWithSource<object?, object?>(options, ProcessWorkerSource.For(setup, MaxItemsPerWorker, MaxWorkerMemoryMB), this)
                    : ParallelEngine.Create<object?, object?>(options, _ => new RunspaceWorker(setup), this);
            }
            catch (CommandErrorException e)
            {
                ThrowTerminatingError(e.Record);
            }
        }

        /// <summary>The per-item script text; derived cmdlets may prepare other scripts too.</summary>
        private protected virtual string PrepareItemScript(Dictionary<string, object?> usingValues)
        {
            // ScriptPreparer refuses an empty script (nothing but comments or white space).
            MandatoryParameterCheck.ThrowIfUnbindable(ItemScriptBlock);
            return ScriptPreparer.Prepare(ItemScriptBlock, SessionState, usingValues).ItemScript;
        }

        /// <summary>Lets a derived cmdlet add its own entries to the runspace template.</summary>
        private protected virtual void AddToSession(InitialSessionState iss)
        {
        }

        private protected virtual EngineOptions BuildOptions()
        {
            var o = new EngineOptions
            {
                ThrottleLimit = ThrottleLimit,
                Ordered = KeepOrder,
                BatchSize = BatchSize,
                MaxRetries = RetryCount,
                RetryTimedOut = RetryTimedOut,
                RetryDelay = TimeSpan.FromSeconds(RetryDelaySeconds),

                // PowerShell's own pipeline threads get 10 MB: deep recursion in scripts needs it.
                WorkerStackSize = 10 * 1024 * 1024,
                ThreadNamePrefix = "ParallelMap runspace",
                ErrorPolicy = EffectivePreference("ErrorAction", "ErrorActionPreference", ActionPreference.Continue) == ActionPreference.Stop ? ErrorPolicy.Stop : ErrorPolicy.Continue,
            };
            if (TimeoutSeconds > 0) o.ItemTimeout = TimeSpan.FromSeconds(TimeoutSeconds);
            if (TotalCount >= 0) o.TotalHint = TotalCount;
            return o;
        }

        /// <summary>
        /// A call with -Pool: refuses what belongs to the pool, reserves places (may wait, see
        /// <see cref="ParallelPool"/>), and makes the engine on the pool's runspaces. The call's
        /// variables and functions travel in an empty session whose entries each borrowed runspace
        /// sets before the call's first item and removes after its last (<see cref="PooledRunspace"/>).
        /// </summary>
        private void BeginPooled(ParallelPool pool, string itemScript, Dictionary<string, object?> usingValues)
        {
            foreach (string name in new[] { nameof(Module), nameof(Function), nameof(InitializationScript), nameof(CleanupScript) })
            {
                if (MyInvocation.BoundParameters.ContainsKey(name))
                {
                    throw new CommandErrorException(new ErrorRecord(new ArgumentException(Strings.Format(PoolStrings.SettingBelongsToPool, name)), PoolStrings.PoolSettingConflictId, ErrorCategory.InvalidArgument, pool));
                }
            }

            // A pool's runspaces live in this process; a silent in-process run would defeat the
            // very reason -Isolation Process was asked for.
            foreach (string name in new[] { nameof(Isolation), nameof(MaxItemsPerWorker), nameof(MaxWorkerMemoryMB) })
            {
                if (MyInvocation.BoundParameters.ContainsKey(name))
                {
                    throw new CommandErrorException(new ErrorRecord(new ArgumentException(Strings.Format(PoolStrings.IsolationNotWithPool, name)), PoolStrings.PoolSettingConflictId, ErrorCategory.InvalidArgument, pool));
                }
            }

            bool throttleGiven = MyInvocation.BoundParameters.ContainsKey(nameof(ThrottleLimit));
            if (throttleGiven && ThrottleLimit > pool.Size)
            {
                throw new CommandErrorException(new ErrorRecord(new ArgumentException(Strings.Format(PoolStrings.ThrottleAbovePool, ThrottleLimit, pool.Size)), PoolStrings.PoolSettingConflictId, ErrorCategory.InvalidArgument, pool));
            }

            if (pool.Remote is RemotePool remotePool)
            {
                BeginRemotePooled(pool, remotePool, itemScript, usingValues, throttleGiven);
                return;
            }

            InitialSessionState callSession = BuildSessionTemplate(usingValues, out var scriptBlocks, forPool: true);
            var setup = new RunspaceSetup(pool.Template, itemScript, pool.InitializationScript, pool.CleanupScript)
            {
                Modules = pool.Modules,
                PoolScriptBlockVariables = pool.ScriptBlockVariables,
                ScriptBlockVariables = scriptBlocks,
                WorkingDirectory = SessionState.Path.CurrentFileSystemLocation.ProviderPath,
                ResultDepth = ResultSerializationDepth,
                NewSpill = ResultSpillSource,
            };
            var options = BuildOptions();
            try
            {
                _lease = pool.Reserve(throttleGiven ? ThrottleLimit : pool.Size, callSession, _stopSource.Token);
            }
            catch (ObjectDisposedException e)
            {
                throw new CommandErrorException(new ErrorRecord(new InvalidOperationException(e.Message, e), PoolStrings.PoolClosedId, ErrorCategory.ResourceUnavailable, pool));
            }
            catch (OperationCanceledException)
            {
                throw new PipelineStoppedException();
            }

            options.ThrottleLimit = _lease.Throttle;
            setup.Lender = _lease;
            _progressId = Math.Abs(GetHashCode() % 100000) + 1;
            _engine = ParallelEngine.CreateWithSource<object?, object?>(options, new PooledWorkerSource(setup, _lease), this);
        }

        /// <summary>
        /// A call on a pool made with -Session: its workers borrow the pool's connections to the
        /// hosts (<see cref="RemotePool"/>), add the call's variables and preferences, and give
        /// them back after the call's last item with those undone.
        /// </summary>
        private void BeginRemotePooled(ParallelPool pool, RemotePool remotePool, string itemScript, Dictionary<string, object?> usingValues, bool throttleGiven)
        {
            var setup = new RunspaceSetup(BuildSessionTemplate(usingValues, out var scriptBlocks), itemScript, null, null)
            {
                ScriptBlockVariables = scriptBlocks,
                ResultDepth = ResultSerializationDepth,
                NewSpill = ResultSpillSource,
            };
            var remote = RemoteWorkerSource.For(setup, remotePool.Sessions, remotePool.PerSession, !NoComputerName, remotePool);
            var options = BuildOptions();
            RemoteWorkerSource.Tune(options, BatchSize);
            try
            {
                _lease = pool.Reserve(throttleGiven ? ThrottleLimit : pool.Size, InitialSessionState.Create(), _stopSource.Token);
            }
            catch (ObjectDisposedException e)
            {
                throw new CommandErrorException(new ErrorRecord(new InvalidOperationException(e.Message, e), PoolStrings.PoolClosedId, ErrorCategory.ResourceUnavailable, pool));
            }
            catch (OperationCanceledException)
            {
                throw new PipelineStoppedException();
            }

            options.ThrottleLimit = _lease.Throttle;
            _progressId = Math.Abs(GetHashCode() % 100000) + 1;
            _engine = ParallelEngine.CreateWithSource<object?, object?>(options, remote, this);
        }

        private InitialSessionState BuildSessionTemplate(Dictionary<string, object?> usingValues, out IReadOnlyList<KeyValuePair<string, string>> scriptBlocks, bool forPool = false)
        {
            // CreateDefault, not CreateDefault2: it binds the built-in cmdlets up front, where
            // CreateDefault2 loads Microsoft.PowerShell.Utility again in each runspace on first use
            // (measured 12-23 ms of CPU per runspace, against 1-7 ms; both open in about 10 ms).
            // For a pooled call only the entries are read: an empty session costs nothing to make.
            InitialSessionState iss = forPool ? InitialSessionState.Create() : InitialSessionState.CreateDefault();
            if (!forPool)
            {
                SharedTables.Apply(iss);
                ModuleCommands.AddTo(iss);
            }

            scriptBlocks = SharedValues.Add(iss, VariableEntries(Variable), usingValues, SessionState);

            AddFunctionEntries(iss, InvokeCommand, Function);

            // Errors always travel to the caller, where its -ErrorAction and -ErrorVariable apply as
            // for any cmdlet: inside the runspaces only Stop (an error fails the item) differs from
            // Continue (the error is forwarded and the item goes on). SilentlyContinue there would
            // hide them even from -ErrorVariable. The item's code sees the caller's
            // $ErrorActionPreference Stop, as ForEach-Object's script block does, whatever
            // -ErrorAction says; -ErrorAction Stop makes it Stop too, as in an advanced function.
            ActionPreference errorAction = EffectivePreference("ErrorAction", "ErrorActionPreference", ActionPreference.Continue);
            bool callerStops = SessionState.PSVariable.GetValue("ErrorActionPreference") is object eap
                && LanguagePrimitives.TryConvertTo(eap, out ActionPreference callerPreference) && callerPreference == ActionPreference.Stop;
            AddPreference(iss, "ErrorActionPreference", errorAction == ActionPreference.Stop || callerStops ? ActionPreference.Stop : ActionPreference.Continue);

            // PowerShell 7.3+: with it $true a native program's non-zero exit code is an error
            // (ProgramExitedWithNonZeroCode), terminating only under Stop, as in ForEach-Object.
            if (SessionState.PSVariable.Get("PSNativeCommandUseErrorActionPreference") is PSVariable native)
            {
                iss.Variables.Add(new SessionStateVariableEntry(native.Name, native.Value, string.Empty));
            }
            AddPreference(iss, "WarningPreference", Captured("WarningVariable", EffectivePreference("WarningAction", "WarningPreference", ActionPreference.Continue)));
            AddPreference(iss, "InformationPreference", Captured("InformationVariable", EffectivePreference("InformationAction", "InformationPreference", ActionPreference.SilentlyContinue)));
            AddPreference(iss, "VerbosePreference", SwitchPreference("Verbose", "VerbosePreference"));
            AddPreference(iss, "DebugPreference", SwitchPreference("Debug", "DebugPreference"));
            AddPreference(iss, "ProgressPreference", EffectivePreference("ProgressAction", "ProgressPreference", ActionPreference.Continue));
            CallerPreferences.AddShouldProcess(iss, this);
            AddToSession(iss);
            iss.Variables.Add(new SessionStateVariableEntry("PSModuleAutoLoadingPreference", SessionState.PSVariable.GetValue("PSModuleAutoLoadingPreference"), string.Empty));
            return iss;
        }

        /// <summary>Refuses a -Variable name no script could reach, or a reserved one.</summary>
        internal static void ValidateVariableName(string name)
        {
            if (name.Trim().Length == 0 || name.IndexOf(':') >= 0 || name.Trim().Length != name.Length)
            {
                // env:X or global:x would make a variable no script can reach.
                throw new CommandErrorException(new ErrorRecord(new ArgumentException(Strings.Format(Strings.VariableNameInvalid, name)), Strings.VariableNameInvalidId, ErrorCategory.InvalidArgument, name));
            }

            if (ReservedNames.Contains(name) || name.StartsWith("__pm", StringComparison.OrdinalIgnoreCase))
            {
                throw new CommandErrorException(new ErrorRecord(new ArgumentException(Strings.Format(Strings.VariableNameReserved, name)), Strings.VariableNameReservedId, ErrorCategory.InvalidArgument, name));
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
                    throw new CommandErrorException(new ErrorRecord(new ItemNotFoundException(Strings.Format(Strings.FunctionNotFound, name)), Strings.FunctionNotFoundId, ErrorCategory.ObjectNotFound, name));
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
                throw new CommandErrorException(new ErrorRecord(new ItemNotFoundException(Strings.Format(Strings.ModuleNotFound, name)), Strings.ModuleNotFoundId, ErrorCategory.ObjectNotFound, name));
            }

            // Imported by the path the caller's module came from: a module the caller loaded from a
            // file outside PSModulePath is found by name only in the caller's session.
            string? path = (found[0].BaseObject as PSModuleInfo)?.Path;
            return path is not null && File.Exists(path) ? path : name;
        }

        private static void AddPreference(InitialSessionState iss, string name, ActionPreference value)
        {
            // No host answers a prompt inside a runspace: Inquire and the debugger's Break run on.
            if (value == ActionPreference.Inquire || (int)value == 6) value = ActionPreference.Continue;
            iss.Variables.Add(new SessionStateVariableEntry(name, value, string.Empty));
        }

        /// <summary>The caller's -XxxAction parameter if given, else its preference variable.</summary>
        private ActionPreference EffectivePreference(string parameter, string variable, ActionPreference fallback)
        {
            if (MyInvocation.BoundParameters.TryGetValue(parameter, out object? bound) && bound is not null)
            {
                if (bound is ActionPreference ap) return ap;
                if (LanguagePrimitives.TryConvertTo(bound, out ActionPreference converted)) return converted;
            }

            object? v = SessionState.PSVariable.GetValue(variable);
            return v is not null && LanguagePrimitives.TryConvertTo(v, out ActionPreference pref) ? pref : fallback;
        }

        /// <summary>
        /// With -WarningVariable or -InformationVariable, a silenced stream still has to reach the
        /// caller, where SilentlyContinue records it into the variable without showing it.
        /// </summary>
        private ActionPreference Captured(string variableParameter, ActionPreference preference) =>
            preference == ActionPreference.SilentlyContinue && MyInvocation.BoundParameters.ContainsKey(variableParameter) ? ActionPreference.Continue : preference;

        /// <summary>-Verbose/-Debug map to Continue (or SilentlyContinue with :$false); else the preference variable.</summary>
        private ActionPreference SwitchPreference(string parameter, string variable)
        {
            if (MyInvocation.BoundParameters.TryGetValue(parameter, out object? bound) && bound is SwitchParameter sw)
            {
                return sw.IsPresent ? ActionPreference.Continue : ActionPreference.SilentlyContinue;
            }

            object? v = SessionState.PSVariable.GetValue(variable);
            return v is not null && LanguagePrimitives.TryConvertTo(v, out ActionPreference pref) ? pref : ActionPreference.SilentlyContinue;
        }

        /// <summary>Rebinds a piped script block; refuses (error, item not run) an item holding one.</summary>
        private protected bool TryTakeInput(ref object? item)
        {
            if (CrossingScriptBlocks.TryPrepareInput(ref item, out ErrorRecord? refused)) return true;
            WriteError(refused!);
            return false;
        }

        /// <summary>Submits one item (may block while delivering outcomes: backpressure on upstream input).</summary>
        private protected void SubmitItem(object? item)
        {
            try
            {
                Engine.Submit(item);
            }
            catch (WorkerFaultedException e)
            {
                // A runspace that failed to start while input still came: the same error as at the end.
                ThrowTerminatingError(WorkerFaultRecord(e));
            }
            catch (AllWorkersLostException e)
            {
                ThrowTerminatingError(AllSessionsLostRecord(e));
            }

            OnIdle();
            MaybeWriteProgress();
        }

        /// <summary>Delivers every outcome, then lets the runspaces run their end and cleanup, forwarding what they write.</summary>
        private protected void FinishRun()
        {
            try
            {
                Engine.Drain();
            }
            catch (WorkerFaultedException e)
            {
                ThrowTerminatingError(WorkerFaultRecord(e));
            }
            catch (AllWorkersLostException e)
            {
                ThrowTerminatingError(AllSessionsLostRecord(e));
            }

            // With every worker gone, the runspaces are back in the pool: its places can go too.
            if (Engine.Shutdown()) _lease?.Release();
            CompleteProgress();
        }

        private ErrorRecord WorkerFaultRecord(WorkerFaultedException e)
        {
            if (e.DuringBegin)
            {
                Exception inner = e.InnerException ?? e;
                var record = inner is ItemErrorsException items ? items.Records[0] : (inner as IContainsErrorRecord)?.ErrorRecord;
                string message = record?.ErrorDetails?.Message ?? record?.Exception?.Message ?? inner.Message;
                return new ErrorRecord(new InvalidOperationException(Strings.Format(Strings.InitializationFailed, message), inner), Strings.InitializationFailedId, ErrorCategory.InvalidOperation, InitializationScript);
            }

            return new ErrorRecord(new InvalidOperationException(Strings.Format(Strings.WorkerFailed, e.InnerException?.Message), e), Strings.WorkerFailedId, ErrorCategory.InvalidOperation, null);
        }

        private static ErrorRecord AllSessionsLostRecord(AllWorkersLostException e) =>
            new ErrorRecord(new InvalidOperationException(Strings.Format(RemoteStrings.AllSessionsLost, e.InnerException?.Message), e), RemoteStrings.AllSessionsLostId, ErrorCategory.ResourceUnavailable, null);

        /// <summary>Ctrl-C: stop everything at once; Dispose then waits (bounded) for the cleanup scripts.</summary>
        protected override void StopProcessing()
        {
            _stopping = true;
            _stopSource.Cancel();
            ParallelEngine<object?, object?>? engine = _engine;
            engine?.Stop();
        }

        /// <summary>Stops what still runs and closes every runspace, exactly once.</summary>
        public void Dispose()
        {
            lock (_disposeLock)
            {
                if (_disposed) return;
                _disposed = true;
            }

            DisposeResources();
            _lease?.Release();
            _stopSource.Dispose();
            GC.SuppressFinalize(this);
        }

        /// <summary>Releases the run's resources; a derived cmdlet adds its own after the base's.</summary>
        protected virtual void DisposeResources() => _engine?.Dispose();

        // ------------------------------------------------------------------ sink (pipeline thread)

        /// <summary>True when items come from the pipeline or -InputObject; without either there is nothing to run per item.</summary>
        private protected bool ReceivesInput => MyInvocation.ExpectingInput || MyInvocation.BoundParameters.ContainsKey("InputObject");

        /// <summary>True once Ctrl-C (StopProcessing) came: nothing may be written any more.</summary>
        private protected bool StopRequested => _stopping;

        void IEngineSink<object?, object?>.OnOutcome(ItemOutcome<object?, object?> outcome)
        {
            // Outcomes still reach the cmdlet while stopping (a resumable batch records what
            // finished); only the writes stop.
            if (!_stopping)
            {
                for (int i = 0; i < outcome.PreviousErrors.Count; i++)
                {
                    WriteVerbose(Strings.Format(Strings.RetryingItem, outcome.Input, i + 1, outcome.PreviousErrors[i].Message));
                }
            }

            if (outcome.Status != ItemStatus.NotRun) Pool?.CountItem();
            OnItemOutcome(outcome);
        }

        /// <summary>What the cmdlet does with an item's outcome; the default writes outputs and errors.</summary>
        private protected virtual void OnItemOutcome(ItemOutcome<object?, object?> outcome)
        {
            if (_stopping) return;
            switch (outcome.Status)
            {
                case ItemStatus.Succeeded:
                    WriteOutputs(outcome.Outputs);
                    break;
                case ItemStatus.Failed:
                    // What the item wrote before it failed is passed on, as ForEach-Object -Parallel
                    // does; a retried attempt's outputs never reach here (only the last attempt's).
                    WriteOutputs(PartialOutputs(outcome));
                    foreach (ErrorRecord e in ItemErrorRecords(outcome)) WriteError(e);
                    break;
                case ItemStatus.TimedOut:
                    // Stopped midway by ParallelMap: its outputs are dropped (its runspace was
                    // still writing them when the time ran out).
                    foreach (ErrorRecord e in ItemErrorRecords(outcome)) WriteError(e);
                    break;
            }
        }

        /// <summary>Writes an item's outputs; Invoke-ParallelRun discards them.</summary>
        private protected virtual void WriteOutputs(IReadOnlyList<object?> outputs)
        {
            foreach (object? o in outputs) WriteObject(o);
        }

        /// <summary>What a failed item wrote before its terminating error.</summary>
        private protected static IReadOnlyList<object?> PartialOutputs(ItemOutcome<object?, object?> outcome) =>
            (outcome.Error as ItemErrorsException)?.Outputs ?? Array.Empty<object?>();

        /// <summary>
        /// The error records of a failed item, ready for WriteError: each as PowerShell made it
        /// (ErrorId, exception, category, position), with the item as target where it names none.
        /// ParallelMap's own ids (ItemTimedOut, ItemFailed) only where ParallelMap decided the
        /// failure, with the original exception inside.
        /// </summary>
        private protected IEnumerable<ErrorRecord> ItemErrorRecords(ItemOutcome<object?, object?> outcome)
        {
            if (outcome.Status == ItemStatus.TimedOut)
            {
                yield return new ErrorRecord(new TimeoutException(Strings.Format(Strings.ItemTimedOutNamed, UserText.DescribeItem(outcome.Input), TimeoutSeconds.ToString("0.###", System.Globalization.CultureInfo.CurrentCulture)), outcome.Error), Strings.ItemTimedOutId, ErrorCategory.OperationTimeout, outcome.Input);
                yield break;
            }

            if (outcome.Error is ProcessWorkerExitedException exited)
            {
                yield return new ErrorRecord(exited, ProcessStrings.WorkerProcessExitedId, ErrorCategory.ResourceUnavailable, outcome.Input);
                yield break;
            }

            if (outcome.Error is WorkerLostException lost)
            {
                yield return new ErrorRecord(lost, RemoteStrings.WorkerLostId, ErrorCategory.ResourceUnavailable, outcome.Input);
                yield break;
            }

            if (outcome.Error is ItemErrorsException items)
            {
                foreach (ErrorRecord r in items.Records) yield return ErrorForwarding.ForCaller(r, outcome.Input, UserBlockOf(outcome.Input));
                yield break;
            }

            Exception ex = outcome.Error ?? new InvalidOperationException();
            ErrorRecord? inner = (ex as IContainsErrorRecord)?.ErrorRecord;
            yield return inner is not null ? ErrorForwarding.ForCaller(inner, outcome.Input, UserBlockOf(outcome.Input)) : new ErrorRecord(ex, Strings.ItemFailedId, ErrorCategory.NotSpecified, outcome.Input);
        }

        void IEngineSink<object?, object?>.OnRecord(WorkerRecord<object?> record)
        {
            if (_stopping) return;
            switch (record.Record)
            {
                case ErrorRecord e when record.IsItemRecord:
                    // A non-terminating error of an item: written as it is; the item goes on.
                    WriteError(ErrorForwarding.ForCaller(e, record.Input, UserBlockOf(record.Input)));
                    break;
                case ErrorRecord e:
                    WriteError(new ErrorRecord(e.Exception, Strings.CleanupFailedId, e.CategoryInfo.Category, e.TargetObject));
                    break;
                case WarningRecord w:
                    WriteWarning(w.Message);
                    break;
                case VerboseRecord v:
                    WriteVerbose(v.Message);
                    break;
                case DebugRecord d:
                    WriteDebug(d.Message);
                    break;
                case InformationRecord i:
                    WriteInformation(i);
                    break;
                case ProgressRecord p:
                    if (p.ParentActivityId < 0 && _progressShown) p.ParentActivityId = _progressId;
                    WriteProgress(p);
                    break;
                case ItemOutputs<object?> outputs:
                    // Outputs a big item passed on while it runs (RunspaceWorker streams them).
                    WriteOutputs(outputs.Values);
                    break;
                case EndOutput o:
                    WriteEndOutput(o.Value);
                    break;
                case Exception ex:
                    WriteError(new ErrorRecord(ex, Strings.CleanupFailedId, ErrorCategory.CloseError, null));
                    break;
            }
        }

        /// <summary>An output of a per-runspace end block (or of the init/cleanup script).</summary>
        private protected virtual void WriteEndOutput(object? value) => WriteObject(value);

        void IEngineSink<object?, object?>.OnWait()
        {
            OnIdle();
            MaybeWriteProgress();
        }

        /// <summary>Called on the pipeline thread while it waits for the runspaces (and after each submit).</summary>
        private protected virtual void OnIdle()
        {
        }

        // ------------------------------------------------------------------ progress

        private void MaybeWriteProgress()
        {
            if (_stopping) return;
            DateTime now = DateTime.UtcNow;
            if ((now - _lastProgress).TotalMilliseconds < 200) return;
            _lastProgress = now;
            EngineProgress p = Engine.GetProgress();

            // Short runs show no bar: it would only flicker.
            if (!_progressShown && p.Elapsed.TotalSeconds < 1) return;
            _progressShown = true;
            var record = new ProgressRecord(_progressId, ProgressActivity, p.Total is long total
                ? Strings.Format(Strings.ProgressStatus, p.Completed, total, p.Running, p.RatePerSecond)
                : Strings.Format(Strings.ProgressStatusNoTotal, p.Completed, p.Running, p.RatePerSecond));
            if (p.PercentComplete is int pc) record.PercentComplete = pc;
            if (p.EstimatedRemaining is TimeSpan eta) record.SecondsRemaining = (int)Math.Min(int.MaxValue, eta.TotalSeconds);
            WriteProgress(record);
        }

        private void CompleteProgress()
        {
            if (!_progressShown) return;
            WriteProgress(new ProgressRecord(_progressId, ProgressActivity, "Done") { RecordType = ProgressRecordType.Completed });
        }
    }
}
