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
    public abstract partial class ParallelCommandBase : PSCmdlet, IDisposable, IEngineSink<object?, object?>
    {
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
                foreach (string name in Module ?? Array.Empty<string>()) modules.Add(Session is null ? RunspaceTemplate.ResolveModule(this, name) : name);
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
                ErrorPolicy = CallerPreferences.EffectivePreference(this, "ErrorAction", "ErrorActionPreference", ActionPreference.Continue) == ActionPreference.Stop ? ErrorPolicy.Stop : ErrorPolicy.Continue,
            };
            if (TimeoutSeconds > 0) o.ItemTimeout = TimeSpan.FromSeconds(TimeoutSeconds);
            if (TotalCount >= 0) o.TotalHint = TotalCount;
            return o;
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

            scriptBlocks = SharedValues.Add(iss, RunspaceTemplate.VariableEntries(Variable), usingValues, SessionState);

            RunspaceTemplate.AddFunctionEntries(iss, InvokeCommand, Function);

            CallerPreferences.AddStreamPreferences(iss, this);
            CallerPreferences.AddShouldProcess(iss, this);
            AddToSession(iss);
            iss.Variables.Add(new SessionStateVariableEntry("PSModuleAutoLoadingPreference", SessionState.PSVariable.GetValue("PSModuleAutoLoadingPreference"), string.Empty));
            return iss;
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
                ThrowTerminatingError(RunErrorRecords.ForWorkerFault(e, InitializationScript));
            }
            catch (AllWorkersLostException e)
            {
                ThrowTerminatingError(RunErrorRecords.ForAllSessionsLost(e));
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
                ThrowTerminatingError(RunErrorRecords.ForWorkerFault(e, InitializationScript));
            }
            catch (AllWorkersLostException e)
            {
                ThrowTerminatingError(RunErrorRecords.ForAllSessionsLost(e));
            }

            // With every worker gone, the runspaces are back in the pool: its places can go too.
            if (Engine.Shutdown()) _lease?.Release();
            CompleteProgress();
        }

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
    }
}
