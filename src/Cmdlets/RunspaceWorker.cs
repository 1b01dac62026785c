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
    /// <summary>What every runspace of one run shares: the session template and the scripts.</summary>
    internal sealed class RunspaceSetup
    {
        internal RunspaceSetup(InitialSessionState template, string itemScript, string? initializationScript, string? cleanupScript)
        {
            Template = template;
            ItemScript = itemScript;
            InitializationScript = initializationScript;
            CleanupScript = cleanupScript;
        }

        /// <summary>Variables (shared by reference), functions, modules and preferences; cloned per runspace.</summary>
        internal InitialSessionState Template { get; }

        /// <summary>The per-item script, with the item code in its process block.</summary>
        internal string ItemScript { get; }

        internal string? InitializationScript { get; }

        internal string? CleanupScript { get; }

        /// <summary>Modules (resolved paths or names) each runspace imports before the initialization script.</summary>
        internal IReadOnlyList<string> Modules { get; set; } = Array.Empty<string>();

        /// <summary>When set, each item's results are serialized (CliXml, this depth) on the worker's thread and attached to its outcome.</summary>
        internal int? ResultDepth { get; set; }

        /// <summary>Variables whose value is a script block, as text: each runspace makes its own from it (see <see cref="CrossingScriptBlocks"/>).</summary>
        internal IReadOnlyList<KeyValuePair<string, string>> ScriptBlockVariables { get; set; } = Array.Empty<KeyValuePair<string, string>>();

        /// <summary>The caller's current file-system location, where each runspace starts.</summary>
        internal string? WorkingDirectory { get; set; }
    }

    /// <summary>An output of a runspace's end block (a script with its own end block), not tied to any item.</summary>
    internal sealed class EndOutput
    {
        internal EndOutput(object? value) => Value = value;

        internal object? Value { get; }
    }

    /// <summary>An item's failure: the error records it wrote or threw, in order.</summary>
    internal sealed class ItemErrorsException : Exception
    {
        internal ItemErrorsException(IReadOnlyList<ErrorRecord> records)
            : base(records[0].Exception?.Message ?? records[0].ToString(), records[0].Exception) => Records = records;

        internal IReadOnlyList<ErrorRecord> Records { get; }
    }

    /// <summary>
    /// One runspace. Begin opens it on the worker's own thread (runspaces of one run open in
    /// parallel, and work starts on the first one ready) and runs the initialization script.
    /// Execute runs one long-lived PowerShell invocation whose script hands a SteppablePipeline of
    /// the user's script to <see cref="Drive"/>, which runs the engine's item loop inside that
    /// invocation: each item then costs one <c>SteppablePipeline.Process</c> call, never a new
    /// invocation. End runs the cleanup script and closes the runspace, also after a stop.
    /// </summary>
    internal sealed class RunspaceWorker : Worker<object?, object?>
    {
        private const string DriverScript = "param($__pmRelay, $__pmLoop, $__pmText)\n" +
            "$__pmBlock = [scriptblock]::Create($__pmText)\n" +
            "$__pmRelay.Drive($__pmLoop, { & $__pmBlock })\n";

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
        private List<ErrorRecord>? _itemErrors;

        /// <summary>Why the user's begin {} block failed, if it did.</summary>
        private Exception? _beginFailure;

        internal RunspaceWorker(RunspaceSetup setup)
        {
            _setup = setup;
            _relay = new Relay(this);
        }

        protected override void Begin()
        {
            // One template for every runspace, as a RunspacePool does: Open only reads it, and a
            // clone per runspace cost as much as a third of opening one.
            _runspace = RunspaceFactory.CreateRunspace(_setup.Template);

            // Invocations run on this worker thread: no thread hop per call, and the engine's
            // dedicated thread is the runspace's pipeline thread.
            _runspace.ThreadOptions = PSThreadOptions.UseCurrentThread;
            _runspace.Name = "ParallelMap" + Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
            _runspace.Open();
            if (Volatile.Read(ref _aborted) != 0) throw new OperationCanceledException();
            foreach (var pair in _setup.ScriptBlockVariables)
            {
                // Made here, unbound: it runs in this runspace, never in the caller's.
                _runspace.SessionStateProxy.PSVariable.Set(pair.Key, ScriptBlock.Create(pair.Value));
            }

            // Open already set the process's directory; setting it again is not free (PowerShell
            // lists every parent folder to find the path's true casing), so only a different one is set.
            if (_setup.WorkingDirectory is string dir
                && !string.Equals(dir, _runspace.SessionStateProxy.Path.CurrentFileSystemLocation.ProviderPath, StringComparison.Ordinal)
                && System.IO.Directory.Exists(dir))
            {
                _runspace.SessionStateProxy.Path.SetLocation(WildcardPattern.Escape(dir));
            }

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
        }

        protected override void Execute(WorkLoop loop)
        {
            using var ps = PowerShell.Create();
            ps.Runspace = _runspace;
            ps.AddScript(DriverScript).AddArgument(_relay).AddArgument(loop).AddArgument(_setup.ItemScript);
            HookStreams(ps, inItemLoop: true);
            _running = ps;
            try
            {
                if (Volatile.Read(ref _aborted) != 0) return;
                ps.Invoke();
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
                throw new InvalidOperationException(Strings.Format(Strings.BeginBlockFailed, message), begin);
            }
        }

        /// <summary>Called by the driver script, inside the invocation: opens the pipeline and runs the engine's loop.</summary>
        internal void Drive(WorkLoop loop, ScriptBlock pipeFactory)
        {
            _pipeFactory = pipeFactory;
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
                foreach (object? o in _pipe.End()) EmitRecord(new EndOutput(o));
                _pipe.Dispose();
                _pipe = null;
            }
        }

        private void OpenPipe()
        {
            _pipe = _pipeFactory!.GetSteppablePipeline();
            _pipe.Begin(true);
        }

        protected override void Process(object? input, ItemContext<object?> context)
        {
            _context = context;
            _itemErrors = null;
            _relay.Caught = null;
            try
            {
                if (_pipe is null) OpenPipe();
                Array outputs = _pipe!.Process(input);
                foreach (object? o in outputs) context.Output(o);
                if (_setup.ResultDepth is int depth && _itemErrors is null && _relay.Caught is null)
                {
                    var results = new object?[outputs.Length];
                    outputs.CopyTo(results, 0);
                    context.Attachment = ResultSerializer.Serialize(results, depth);
                }
            }
            catch (Exception ex) when (Volatile.Read(ref _aborted) == 0)
            {
                // Only flow control (exit, break) escapes the guard around the user's code, and it
                // leaves the steppable pipeline unusable: open a new one for the next item.
                try
                {
                    _pipe?.Dispose();
                }
                catch (Exception)
                {
                    // A broken pipeline may fail to dispose; it is replaced either way.
                }

                _pipe = null;

                // A labelled 'break' or 'continue' whose label no loop has ends the item, as an
                // unlabelled one does (the one-pass loop around the item's code takes those).
                string kind = ex.GetType().Name;
                if (kind == "ExitException")
                {
                    // 'exit' ends the item's script, as in a script file: 0 (or none) is success.
                    object? code = ex.GetType().GetProperty("Argument")?.GetValue(ex);
                    if (code is not null && LanguagePrimitives.TryConvertTo(code, out int exitCode) && exitCode != 0)
                    {
                        context.Fail(new InvalidOperationException(Strings.Format(Strings.ItemExited, exitCode), ex));
                    }
                }
                else if (kind != "BreakException" && kind != "ContinueException")
                {
                    throw;
                }
            }
            finally
            {
                _context = null;
            }

            List<ErrorRecord>? errors = _itemErrors;
            if (_relay.Caught is ErrorRecord caught) (errors ??= new List<ErrorRecord>()).Add(caught);
            _itemErrors = null;
            if (errors is not null) context.Fail(new ItemErrorsException(errors));
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

            (_itemErrors ??= new List<ErrorRecord>()).Add(record);
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

        /// <summary>The object the runspace's scripts call into. Public members only because PowerShell calls them.</summary>
        public sealed class Relay
        {
            private readonly RunspaceWorker _worker;

            internal Relay(RunspaceWorker worker) => _worker = worker;

            internal ErrorRecord? Caught { get; set; }

            /// <summary>Runs the item loop inside the driver invocation.</summary>
            /// <param name="loop">The engine's loop.</param>
            /// <param name="pipeFactory">A script block whose steppable pipeline runs the user's script.</param>
            public void Drive(WorkLoop loop, ScriptBlock pipeFactory) => _worker.Drive(loop, pipeFactory);

            /// <summary>Records the terminating error that ended the current item's code.</summary>
            /// <param name="error">The error.</param>
            public void Fail(ErrorRecord error) => Caught ??= error;
        }
    }
}
