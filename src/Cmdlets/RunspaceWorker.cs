using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Threading;
using ParallelMap.Engine;

namespace ParallelMap.Commands
{
    /// <summary>
    /// One runspace. Begin opens it on the worker's own thread (runspaces of one run open in
    /// parallel, and work starts on the first one ready) and runs the initialization script.
    /// Execute runs one long-lived PowerShell invocation whose script hands a SteppablePipeline of
    /// the user's script to <see cref="Drive"/>, which runs the engine's item loop inside that
    /// invocation: each item then costs one <c>SteppablePipeline.Process</c> call, never a new
    /// invocation. End runs the cleanup script and closes the runspace, also after a stop.
    /// </summary>
    internal sealed partial class RunspaceWorker : Worker<object?, object?>
    {
        private const string DriverScript = "param($__pmRelay, $__pmLoop, $__pmText)\n" +
            "$__pmBlock = [scriptblock]::Create($__pmText)\n" +
            "$__pmRelay.Drive($__pmLoop, { & $__pmBlock }, $ExecutionContext)\n";

        /// <summary>
        /// Outputs an item may hold before they are passed on while it runs. Small items (almost
        /// all) never reach it, so their outputs keep travelling with their outcome, in one hand-off.
        /// </summary>
        private const int StreamChunk = 256;

        private readonly RunspaceSetup _setup;
        private readonly Relay _relay;
        private Runspace? _runspace;

        /// <summary>The invocation running now (init, item loop or cleanup), for Abort to stop.</summary>
        private PowerShell? _running;
        private int _aborted;

        /// <summary>The long-lived pipeline of the user's script, valid inside <see cref="Drive"/>.</summary>
        private SteppablePipeline? _pipe;
        private ScriptBlock? _pipeFactory;
        private ItemContext<object?>? _context;

        /// <summary>What the running item wrote so far, as it wrote it (see <see cref="OnOutput"/>).</summary>
        private readonly List<object?> _outputs = new List<object?>();

        /// <summary>In a batch whose outputs are only recorded: the running item's result, serialized as it is written (else null).</summary>
        private readonly SpillingResult? _result;

        /// <summary>The driver's context: the user's pipeline writes straight into the driver's output and error streams.</summary>
        private EngineIntrinsics? _driverContext;

        /// <summary>Why the user's begin {} block failed, if it did.</summary>
        private Exception? _beginFailure;

        /// <summary>True once the lender was asked for a runspace: it is then owed exactly one return.</summary>
        private bool _lent;

        /// <summary>True once the driver invocation ended by itself: only then is a pooled runspace fit to lend again.</summary>
        private bool _executed;

        internal RunspaceWorker(RunspaceSetup setup)
        {
            _setup = setup;
            _relay = new Relay(this);
            if (setup.ResultDepth is int depth && setup.NewSpill is not null) _result = new SpillingResult(depth, setup.NewSpill);
        }

        protected override void Begin()
        {
            IRunspaceLender? lender = _setup.Lender;
            if (lender is not null)
            {
                _lent = true;
                _runspace = lender.Borrow(Id);
                if (_runspace is not null)
                {
                    // A pool's runspace: its modules and initialization ran when it was opened.
                    SetWorkingDirectory();
                    lender.Enter(_runspace);
                    SetScriptBlockVariables();
                    return;
                }
            }

            // One template for every runspace, as a RunspacePool does: Open only reads it, and a
            // clone per runspace cost as much as a third of opening one.
            _runspace = RunspaceFactory.CreateRunspace(_setup.Template);

            // Invocations run on this worker thread: no thread hop per call, and the engine's
            // dedicated thread is the runspace's pipeline thread.
            _runspace.ThreadOptions = PSThreadOptions.UseCurrentThread;
            _runspace.Name = lender?.NewRunspaceName() ?? "ParallelMap" + Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
            _runspace.Open();
            if (Volatile.Read(ref _aborted) != 0) throw new OperationCanceledException();
            SetScriptBlocks(lender is null ? _setup.ScriptBlockVariables : _setup.PoolScriptBlockVariables);
            SetWorkingDirectory();

            if (_setup.Modules.Count > 0)
            {
                // Imported by a script rather than InitialSessionState.ImportPSModule, whose
                // failures at Open are easy to miss: here a failure stops the run at once.
                var errors = RunScript("param($m) Import-Module -Name $m -ErrorAction Stop", _setup.Modules);
                if (errors.Count > 0) throw new ItemErrorsException(errors);
            }

            if (_setup.InitializationScript is string init)
            {
                var errors = RunScript(init);
                if (errors.Count > 0) throw new ItemErrorsException(errors);
            }

            if (lender is not null)
            {
                // After the snapshot: the call's script-block values are the call's, reset after it.
                lender.Adopt(_runspace);
                lender.Enter(_runspace);
                SetScriptBlockVariables();
            }
        }

        private void SetScriptBlockVariables() => SetScriptBlocks(_setup.ScriptBlockVariables);

        private void SetScriptBlocks(IReadOnlyList<KeyValuePair<string, string>> variables)
        {
            foreach (var pair in variables)
            {
                // Made here, unbound: it runs in this runspace, never in the caller's.
                _runspace!.SessionStateProxy.PSVariable.Set(pair.Key, ScriptBlock.Create(pair.Value));
            }
        }

        private void SetWorkingDirectory()
        {
            // Open already set the process's directory; setting it again is not free (PowerShell
            // lists every parent folder to find the path's true casing), so only a different one is set.
            if (_setup.WorkingDirectory is string dir
                && !string.Equals(dir, _runspace!.SessionStateProxy.Path.CurrentFileSystemLocation.ProviderPath, StringComparison.Ordinal)
                && System.IO.Directory.Exists(dir))
            {
                _runspace.SessionStateProxy.Path.SetLocation(WildcardPattern.Escape(dir));
            }
        }

        protected override void Execute(WorkLoop loop)
        {
            using var ps = PowerShell.Create();
            ps.Runspace = _runspace;
            ps.AddScript(DriverScript).AddArgument(_relay).AddArgument(loop).AddArgument(_setup.ItemScript);
            HookStreams(ps, inItemLoop: true);

            // Each object the user's code writes arrives here as it is written, so no flow control
            // that ends the item early (exit, a terminating error) can take its outputs with it.
            using var output = new PSDataCollection<object?>();
            output.DataAdded += (c, e) => OnOutput(Take<object?>(c, e));
            _running = ps;
            try
            {
                if (Volatile.Read(ref _aborted) != 0) return;
                ps.Invoke<object, object?>(null, output, null);
                _executed = true;
            }
            catch (Exception) when (Volatile.Read(ref _aborted) != 0)
            {
                // Stopped on purpose (timeout or stop): the engine already reported the item.
            }
            finally
            {
                _running = null;
            }

            if (_beginFailure is Exception begin)
            {
                string message = (begin as RuntimeException)?.ErrorRecord?.Exception?.Message ?? begin.Message;
                throw new InvalidOperationException(UserText.Format(Strings.BeginBlockFailed, message), begin);
            }
        }

        /// <summary>Called by the driver script, inside the invocation: opens the pipeline and runs the engine's loop.</summary>
        internal void Drive(WorkLoop loop, ScriptBlock pipeFactory, EngineIntrinsics driverContext)
        {
            _pipeFactory = pipeFactory;
            _driverContext = driverContext;
            try
            {
                OpenPipe();
            }
            catch (Exception e) when (Volatile.Read(ref _aborted) == 0)
            {
                // The script's begin {} block failed: no item can run here. Execute reports it
                // with its own message (a method call's exception would only reach the driver
                // script's error stream).
                _beginFailure = e;
                return;
            }

            loop.Run();
            if (_pipe is not null && Volatile.Read(ref _aborted) == 0)
            {
                // The user's end block, if any, runs once per runspace.
                _context = null;
                Array ended;
                try
                {
                    ended = _pipe.End();
                }
                catch (Exception e) when (Volatile.Read(ref _aborted) == 0 && !(e is PipelineStoppedException))
                {
                    // Left to escape, it would reach the driver script as "Exception calling
                    // "Drive" with "3" argument(s)": say whose code failed, with its message.
                    EmitRecord(ItemEndings.EndBlockFailure(e));
                    ended = Array.Empty<object>();
                }

                foreach (object? o in ended) EmitRecord(new EndOutput(o));
                _pipe.Dispose();
                _pipe = null;
            }
        }

        private void OpenPipe()
        {
            _pipe = _pipeFactory!.GetSteppablePipeline();

            // Linked to the driver's streams (the command running now is the driver script):
            // outputs and errors are delivered as they are written, not collected per Process call.
            _pipe.Begin(true, _driverContext!);
        }

        /// <summary>
        /// Runs one item. The rule of the item model: what the item writes is its output; a
        /// non-terminating error is forwarded as it happens and the item goes on, as in
        /// ForEach-Object; only a terminating error (a throw, an exception, an error under
        /// Stop, or 'exit' with a non-zero code) fails the item, and what it wrote before then
        /// travels with its failure (<see cref="ItemErrorsException.Outputs"/>).
        /// </summary>
        protected override void Process(object? input, ItemContext<object?> context)
        {
            try
            {
                RunItem(input, context);
            }
            finally
            {
                // A result not handed on (a failure, a stop, a timeout) is dropped with its spill.
                _result?.Dispose();
            }
        }

        private void RunItem(object? input, ItemContext<object?> context)
        {
            _context = context;
            _outputs.Clear();
            _relay.Caught = null;
            ErrorRecord? failure = null;
            try
            {
                if (_pipe is null) OpenPipe();

                // The pipeline writes into the driver's output (OnOutput); what Process still
                // returns is kept too.
                foreach (object? o in _pipe!.Process(input)) Keep(o);
            }
            catch (Exception ex) when (Volatile.Read(ref _aborted) == 0)
            {
                // Only flow control (exit, break) and failures outside the item's code (an
                // advanced script's parameter binding, a begin block run again) escape the guard
                // around the user's code, and they leave the steppable pipeline unusable: open a
                // new one for the next item.
                try
                {
                    _pipe?.Dispose();
                }
                catch (Exception)
                {
                    // A broken pipeline may fail to dispose; it is replaced either way.
                }

                _pipe = null;
                failure = ItemEndings.EscapedFailure(ex, input);
            }
            finally
            {
                _context = null;
            }

            if (_relay.Caught is ErrorRecord caught) failure = caught;
            _relay.Caught = null;
            if (failure is not null)
            {
                context.Fail(new ItemErrorsException(new[] { failure }, _outputs.ToArray()));
                _outputs.Clear();
                return;
            }

            if (_result is not null)
            {
                context.Attachment = _result.Finish();
                return;
            }

            foreach (object? o in _outputs) context.Output(o);
            if (_setup.ResultDepth is int depth)
            {
                context.Attachment = ResultSerializer.Serialize(_outputs.ToArray(), depth);
            }

            _outputs.Clear();
        }

        /// <summary>Keeps one output of the running item: in its result being serialized, or with its outputs.</summary>
        private void Keep(object? value)
        {
            if (_result is null)
            {
                _outputs.Add(value);
            }
            else
            {
                _result.Add(value);
            }
        }

        protected override void End()
        {
            try
            {
                _pipe?.Dispose();
            }
            catch (Exception)
            {
                // The pipeline died with a stopped invocation; the runspace is closed below.
            }

            _pipe = null;
            if (_lent)
            {
                // Lent again only if nothing stopped or broke it; otherwise closed below, as unpooled.
                bool healthy = _executed && Volatile.Read(ref _aborted) == 0 && _runspace?.RunspaceStateInfo.State == RunspaceState.Opened;
                if (_setup.Lender!.TryReturn(_runspace, healthy))
                {
                    _runspace = null;
                    return;
                }
            }

            try
            {
                if (_setup.CleanupScript is string cleanup && _runspace?.RunspaceStateInfo.State == RunspaceState.Opened)
                {
                    // Cleanup runs even after an abort: the abort stopped one invocation, not the runspace.
                    Interlocked.Exchange(ref _aborted, 0);
                    foreach (var e in RunScript(cleanup)) EmitRecord(e);
                }
            }
            finally
            {
                _runspace?.Dispose();
                _runspace = null;
            }
        }

        public override void Abort()
        {
            Interlocked.Exchange(ref _aborted, 1);
            PowerShell? ps = _running;
            if (ps is null) return;
            try
            {
                ps.BeginStop(null, null);
            }
            catch (Exception)
            {
                // The invocation may have just ended; nothing left to stop.
            }
        }

        /// <summary>Runs a whole script in the runspace's global scope; forwards its streams; returns its errors.</summary>
        private List<ErrorRecord> RunScript(string script, object? argument = null)
        {
            var errors = new List<ErrorRecord>();
            using var ps = PowerShell.Create();
            ps.Runspace = _runspace;
            ps.AddScript(script, useLocalScope: false);
            if (argument is not null) ps.AddArgument(argument);
            HookStreams(ps, inItemLoop: false);
            ps.Streams.Error.DataAdded += (s, e) => errors.Add(((PSDataCollection<ErrorRecord>)s!)[e.Index]);
            _running = ps;
            try
            {
                foreach (PSObject o in ps.Invoke())
                {
                    if (o is not null) EmitRecord(new EndOutput(o));
                }
            }
            catch (RuntimeException ex)
            {
                errors.Add(ex.ErrorRecord);
            }
            finally
            {
                _running = null;
            }

            return errors;
        }

        /// <summary>
        /// Forwards every stream record as it is written. DataAdded runs on the writing thread,
        /// which is this worker's, so a record is attributed exactly to the item running now.
        /// </summary>
        private void HookStreams(PowerShell ps, bool inItemLoop)
        {
            PSDataStreams s = ps.Streams;
            if (inItemLoop)
            {
                s.Error.DataAdded += (c, e) => OnError(Take<ErrorRecord>(c, e));
            }

            s.Warning.DataAdded += (c, e) => Forward(Take<WarningRecord>(c, e));
            s.Verbose.DataAdded += (c, e) => Forward(Take<VerboseRecord>(c, e));
            s.Debug.DataAdded += (c, e) => Forward(Take<DebugRecord>(c, e));
            s.Information.DataAdded += (c, e) => Forward(Take<InformationRecord>(c, e));
            s.Progress.DataAdded += (c, e) => Forward(Take<ProgressRecord>(c, e));
        }

        private static T Take<T>(object? collection, DataAddedEventArgs e)
        {
            var c = (PSDataCollection<T>)collection!;
            T item = c[e.Index];

            // Nothing else reads these collections: keep them from growing over a long run.
            if (c.Count > 256) c.Clear();
            return item;
        }

        private void OnError(ErrorRecord record)
        {
            if (_context is null)
            {
                EmitRecord(record);
                return;
            }

            // Non-terminating: forwarded now (the cmdlet writes it as it is, with the item as its
            // target where it names none) and the item goes on, as in ForEach-Object.
            _context.Record(record);
        }

        private void OnOutput(object? value)
        {
            if (_context is null)
            {
                // Written by the script's begin or end block: no item's output.
                EmitRecord(new EndOutput(value));
                return;
            }

            Keep(value);

            // A big item's outputs go down the pipeline as it writes them, a chunk at a time
            // (the engine blocks this thread while the caller's outbox is full), instead of
            // being held until the item ends: two items of a million objects each would
            // otherwise hold both millions. In an ordered run an item streams once it has its
            // turn, and before that MayStream holds it back (waits) beyond a few thousand.
            // A resumable batch (ResultDepth) never streams: Keep serializes its outputs as they
            // come (SpillingResult), or, with -PassThru or -SaveScript, which need them alive,
            // holds them whole.
            if (_setup.ResultDepth is null && _outputs.Count % StreamChunk == 0 && _context.MayStream(_outputs.Count))
            {
                _context.Stream(_outputs.ToArray());
                _outputs.Clear();
            }
        }

        private void Forward(object record)
        {
            ItemContext<object?>? c = _context;
            if (c is not null)
            {
                c.Record(record);
            }
            else
            {
                EmitRecord(record);
            }
        }
    }
}
