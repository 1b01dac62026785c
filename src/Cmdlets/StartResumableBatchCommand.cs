using System;
using System.Collections;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Management.Automation;
using System.Text;
using ParallelMap.Engine;
using ParallelMap.Engine.Checkpoint;

namespace ParallelMap.Commands
{
    /// <summary>
    /// <para type="synopsis">Runs a script block over keyed items in parallel, checkpointing to a folder so an interrupted batch resumes where it stopped.</para>
    /// </summary>
    [Cmdlet(VerbsLifecycle.Start, "ResumableBatch", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ItemIsKeySet)]
    [OutputType(typeof(ResumableBatchResult))]
    public sealed partial class StartResumableBatchCommand : ParallelCommandBase
    {
        private const string KeyPropertySet = "KeyProperty";
        private const string KeyScriptSet = "KeyScript";
        private const string ItemIsKeySet = "ItemIsKey";

        private readonly Stopwatch _clock = new Stopwatch();

        /// <summary>The key of each submitted item, by engine sequence number, until its outcome arrives.</summary>
        private readonly Dictionary<long, string> _keysInFlight = new Dictionary<long, string>();

        /// <summary>With -SaveScript: the hook that runs it over each chunk's result objects.</summary>
        private SaveScriptHook? _saveHook;

        private CheckpointSession? _session;
        private string _path = string.Empty;
        private long _submitted;
        private long _total;
        private long _done;
        private long _failed;
        private long _skipped;

        /// <summary>Items refused for their key (null, empty, duplicate): never recorded, so not pending either.</summary>
        private long _rejected;
        private Exception? _saveError;

        /// <summary>-WhatIf, or a declined confirmation: nothing runs and nothing is written.</summary>
        private bool _declined;

        /// <summary>The run was saved and marked complete: nothing is left to flush.</summary>
        private bool _completed;

        /// <summary>When <see cref="OnIdle"/> last looked at the chunk time bound (Environment.TickCount).</summary>
        private int _lastIdleCheck;

        /// <summary>Holds off SIGTERM while the run saves what finished (see <see cref="TerminationSignal"/>).</summary>
        private TerminationSignal? _termination;

        /// <summary>How an item's key is found, from the parameter set (made at the first item).</summary>
        private ItemKeys? _keys;

        /// <summary>How long SIGTERM waits for the save: the runspaces' cleanup (5 s at most) and the last flush.</summary>
        private static readonly TimeSpan TerminationBound = TimeSpan.FromSeconds(10);

        /// <summary>The checkpoint folder: made on the first run, resumed on the next.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; } = null!;

        /// <summary>The script to run for each item; <c>$_</c> is the item.</summary>
        [Parameter(Mandatory = true, Position = 1)]
        [ValidateNotNull]
        public ScriptBlock ScriptBlock { get; set; } = null!;

        /// <summary>The items, usually from the pipeline.</summary>
        [Parameter(ValueFromPipeline = true)]
        public PSObject? InputObject { get; set; }

        /// <summary>The property whose value is an item's key (a string item is its own key otherwise).</summary>
        [Parameter(ParameterSetName = KeyPropertySet, Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string KeyProperty { get; set; } = null!;

        /// <summary>A script that returns an item's key (<c>$_</c> is the item); runs on the caller's thread.</summary>
        [Parameter(ParameterSetName = KeyScriptSet, Mandatory = true)]
        [ValidateNotNull]
        public ScriptBlock KeyScript { get; set; } = null!;

        /// <summary>Results per saved chunk.</summary>
        [Parameter]
        [ValidateRange(1, 1000000)]
        public int ChunkSize { get; set; } = 1000;

        /// <summary>A chunk is also saved once its oldest result has waited this long, so a slow trickle is still saved.</summary>
        [Parameter]
        [ValidateRange(0.01, 86400.0)]
        public double ChunkSeconds { get; set; } = 5;

        /// <summary>
        /// Replaces the default saver: <c>param($ChunkPath, $Results, $Keys)</c>, run on the caller's thread for each chunk.
        /// The keys it gets are recorded done only after it returns.
        /// </summary>
        [Parameter]
        [ValidateNotNull]
        public ScriptBlock? SaveScript { get; set; }

        /// <summary>How deep results are serialized (CliXml), as Export-Clixml's -Depth.</summary>
        [Parameter]
        [ValidateRange(1, 100)]
        public int Depth { get; set; } = 2;

        /// <summary>Re-run the items that failed in earlier runs.</summary>
        [Parameter]
        public SwitchParameter RetryFailed { get; set; }

        /// <summary>Discard the checkpoint and start over.</summary>
        [Parameter]
        public SwitchParameter Restart { get; set; }

        /// <summary>Skip the -Restart confirmation, and resume even if the script block changed since the checkpoint was made.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Also stream each item's results down the pipeline as it finishes (and no summary at the end).</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        private protected override ScriptBlock ItemScriptBlock => ScriptBlock;

        /// <summary>-Confirm:$false: the caller said not to ask, which a scheduled task relies on.</summary>
        private bool ConfirmDeclinedExplicitly =>
            MyInvocation.BoundParameters.TryGetValue("Confirm", out object? confirm) && confirm is SwitchParameter sp && !sp.IsPresent;

        private protected override int? ResultSerializationDepth => SaveScript is null ? Depth : (int?)null;

        /// <summary>
        /// Where a big result goes as its item writes it, when only its payload is needed: not with
        /// -PassThru or -SaveScript, which take the live objects (and so hold a key's whole result).
        /// </summary>
        private protected override Func<ResultSpill>? ResultSpillSource =>
            PassThru || SaveScript is not null ? null : () => _session!.CreateSpill();

        /// <summary>Opens (or makes) the checkpoint, holding its lock, then starts the runspaces.</summary>
        protected override void BeginProcessing()
        {
            _clock.Start();
            ThrowIfKeyScriptUsesUsing();
            _path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
            string? parent = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(_path));
            if (parent is not null && !Directory.Exists(parent))
            {
                ThrowTerminatingError(new ErrorRecord(new DirectoryNotFoundException(UserText.Format(Strings.CheckpointParentMissing, _path, parent)), ErrorIds.CheckpointPathNotFoundId, ErrorCategory.ObjectNotFound, _path));
            }

            // -WhatIf (or a declined -Confirm) runs nothing and touches nothing.
            if (!ShouldProcess(_path, Restart ? Strings.RestartAction : Strings.RunAction))
            {
                _declined = true;
                return;
            }

            if (Restart && Directory.Exists(_path) && !DiscardForRestart())
            {
                _declined = true;
                return;
            }

            var options = new CheckpointOptions
            {
                Fingerprint = ScriptFingerprint.ForBatch(_path, ScriptBlock, ParameterSetName, KeyProperty, KeyScript, Restart),
                AllowFingerprintMismatch = Force,
                ChunkSize = ChunkSize,
                ChunkMaxAge = TimeSpan.FromSeconds(ChunkSeconds),

                // Full chunks are written and fsynced while items keep flowing (a -SaveScript
                // still runs here, on the caller's thread).
                BackgroundSave = true,
                Metadata = new Dictionary<string, string> { ["command"] = "Start-ResumableBatch", ["script"] = ScriptBlock.ToString() },
            };
            if (SaveScript is not null)
            {
                _saveHook = new SaveScriptHook(SaveScript);
                options.SaveHook = _saveHook.Save;
            }
            try
            {
                _session = CheckpointStore.Open(_path, options);
            }
            catch (CheckpointException e) when (e.ErrorId == CheckpointErrorIds.CheckpointFingerprintMismatch)
            {
                // The store's message cannot know this cmdlet's way out: say it.
                ThrowTerminatingError(CheckpointErrors.ToRecord(new CheckpointException(e.ErrorId, UserText.Format(Strings.FingerprintMismatch, _path), e.FilePath, e), _path));
            }
            catch (CheckpointException e)
            {
                ThrowTerminatingError(CheckpointErrors.ToRecord(e, _path));
            }
            catch (ArgumentException e)
            {
                ThrowTerminatingError(new ErrorRecord(new ArgumentException(UserText.WithoutParameterName(e), e), ErrorIds.CheckpointPathNotFoundId, ErrorCategory.InvalidArgument, _path));
            }

            if (_session!.TookOverStaleLockFrom is CheckpointLockHolder stale)
            {
                WriteVerbose(UserText.Format(Strings.TookOverStaleLock, stale));
            }

            if (_session.DroppedTornTail) WriteVerbose(Strings.DroppedTornTail);
            base.BeginProcessing();

            // SIGTERM stops the run as Ctrl-C does (StopProcessing is safe from any thread and
            // writes nothing); the pipeline thread then saves in DisposeResources and releases it.
            _termination = TerminationSignal.Register(StopProcessing, TerminationBound);
        }

        /// <summary>
        /// -KeyScript runs in the caller's scope, where '$using:' means nothing: refused once, up
        /// front, rather than failing every item's key.
        /// </summary>
        private void ThrowIfKeyScriptUsesUsing()
        {
            if (KeyScript?.Ast.Find(a => a is System.Management.Automation.Language.UsingExpressionAst, searchNestedScriptBlocks: true) is System.Management.Automation.Language.UsingExpressionAst found)
            {
                string name = (found.SubExpression as System.Management.Automation.Language.VariableExpressionAst)?.VariablePath.UserPath ?? found.SubExpression.Extent.Text;
                ThrowTerminatingError(new ErrorRecord(new ArgumentException(UserText.Format(Strings.UsingInKeyScript, name)), ErrorIds.UsingInKeyScriptId, ErrorCategory.InvalidArgument, KeyScript));
            }
        }

        /// <summary>Skips items already recorded; hands the others to the runspaces.</summary>
        protected override void ProcessRecord()
        {
            if (_declined || _session is null) return;
            if (!ReceivesInput) return;

            // After SIGTERM nothing stops the upstream commands but this: end the pipeline.
            if (_termination?.Signalled == true) throw new PipelineStoppedException();
            ThrowIfSaveFailed();
            object? item = InputObject;
            _total++;
            string? key;
            try
            {
                key = KeyOf(item);
            }
            catch (RuntimeException e) when (ParameterSetName == KeyScriptSet && !(e is PipelineStoppedException))
            {
                _rejected++;
                WriteError(new ErrorRecord(new InvalidOperationException(UserText.Format(Strings.KeyScriptFailed, e.Message), e), ErrorIds.KeyScriptFailedId, ErrorCategory.InvalidData, item));
                return;
            }

            if (string.IsNullOrEmpty(key))
            {
                _rejected++;
                WriteError(new ErrorRecord(new ArgumentException(Strings.KeyNullOrEmpty), ErrorIds.KeyNullOrEmptyId, ErrorCategory.InvalidData, item));
                return;
            }

            // Before ShouldRun, which counts the key as seen in this run.
            if (!TryTakeInput(ref item))
            {
                _rejected++;
                return;
            }

            bool run;
            try
            {
                run = _session.ShouldRun(key!, RetryFailed);
            }
            catch (CheckpointException e) when (e.ErrorId == CheckpointErrorIds.DuplicateKey)
            {
                _rejected++;
                WriteError(new ErrorRecord(e, CheckpointErrorIds.DuplicateKey, ErrorCategory.InvalidData, item));
                return;
            }
            catch (ArgumentException e)
            {
                // A message of our own: the store's ArgumentException names its own parameter.
                _rejected++;
                WriteError(new ErrorRecord(new ArgumentException(UserText.Format(Strings.KeyInvalid, UserText.WithoutParameterName(e)), e), ErrorIds.KeyInvalidId, ErrorCategory.InvalidData, item));
                return;
            }

            if (!run)
            {
                _skipped++;
                return;
            }

            _keysInFlight[_submitted++] = key!;
            SubmitItem(item);
        }

        /// <summary>Waits for the rest, saves everything and marks the run complete.</summary>
        protected override void EndProcessing()
        {
            if (_declined || _session is null) return;
            FinishRun();
            ThrowIfSaveFailed();
            if (StopRequested) throw new PipelineStoppedException();
            Save(() => _session.Complete());
            _completed = _saveError is null;

            // The last save happens in Complete: a failure there must fail the run, not vanish.
            ThrowIfSaveFailed();
            if (!PassThru)
            {
                WriteObject(new ResumableBatchResult(_path, _total, _done, _failed, _skipped, _rejected, Math.Max(0, _total - _done - _failed - _skipped - _rejected), _clock.Elapsed));
            }
        }

        /// <summary>The item's key (<see cref="ItemKeys"/>); an item that is no string without -KeyProperty or -KeyScript ends the call (KeyRequired).</summary>
        private string? KeyOf(object? item)
        {
            _keys ??= ParameterSetName == KeyPropertySet ? ItemKeys.ByProperty(KeyProperty)
                : ParameterSetName == KeyScriptSet ? ItemKeys.ByScript(KeyScript) : ItemKeys.ItemItself();
            if (_keys.TryGetKey(item, out string? key)) return key;
            ThrowTerminatingError(new ErrorRecord(new ArgumentException(Strings.KeyRequired), ErrorIds.KeyRequiredId, ErrorCategory.InvalidArgument, item));
            return null;
        }

        private protected override void OnItemOutcome(ItemOutcome<object?, object?> outcome)
        {
            if (!_keysInFlight.TryGetValue(outcome.Sequence, out string? key))
            {
                (outcome.Attachment as ResultSpill)?.Dispose();
                return;
            }

            _keysInFlight.Remove(outcome.Sequence);
            switch (outcome.Status)
            {
                case ItemStatus.Succeeded when outcome.Attachment is ResultSpill spill:
                    // A big result, already on disk: the store copies it into the chunk.
                    Save(() => _session!.RecordResult(key, spill));
                    _done++;
                    break;
                case ItemStatus.Succeeded:
                    byte[] payload;
                    if (SaveScript is null)
                    {
                        // Serialized on the worker's thread; the pipeline thread only records.
                        payload = outcome.Attachment as byte[] ?? ResultSerializer.Serialize(ToArray(outcome.Outputs), Depth);
                    }
                    else
                    {
                        payload = Array.Empty<byte>();
                        _saveHook!.Hold(key, ToArray(outcome.Outputs));
                    }

                    Save(() => _session!.RecordResult(key, payload));

                    _done++;
                    if (PassThru && !StopRequested)
                    {
                        foreach (object? o in outcome.Outputs) WriteObject(o);
                    }

                    break;
                case ItemStatus.Failed:
                case ItemStatus.TimedOut:
                    var errors = new List<ErrorRecord>(ItemErrorRecords(outcome));
                    var text = new StringBuilder();
                    foreach (ErrorRecord e in errors)
                    {
                        if (text.Length > 0) text.AppendLine();
                        text.Append(e.Exception?.Message ?? e.ToString());
                    }

                    Save(() => _session!.RecordFailure(key, text.ToString(), outcome.Attempts));
                    _failed++;
                    if (!StopRequested)
                    {
                        foreach (ErrorRecord e in errors) WriteError(e);
                    }

                    break;

                // Cancelled or never started: nothing is recorded, so a resume runs it.
            }
        }

        private protected override void OnIdle()
        {
            // Called after every submit: the clock is read at most every few milliseconds.
            int now = Environment.TickCount;
            if (_session is null || _saveError is not null || unchecked(now - _lastIdleCheck) < 4) return;
            _lastIdleCheck = now;
            Save(() => _session.FlushIfDue());
        }

        private static object?[] ToArray(IReadOnlyList<object?> outputs)
        {
            var results = new object?[outputs.Count];
            for (int i = 0; i < results.Length; i++) results[i] = outputs[i];
            return results;
        }

        /// <summary>Runs a store call; a failed save (disk full, a throwing -SaveScript) stops the run.</summary>
        private void Save(Action action)
        {
            try
            {
                action();
            }
            catch (Exception e) when (e is CheckpointException || e is IOException || e is UnauthorizedAccessException || e is RuntimeException)
            {
                _saveError ??= e;
                Engine.Stop();
            }
        }

        private void ThrowIfSaveFailed()
        {
            Exception? e = _saveError;
            if (e is null) return;
            ThrowTerminatingError(e is CheckpointException ce
                ? CheckpointErrors.ToRecord(ce, _path)
                : new ErrorRecord(e, CheckpointErrorIds.CheckpointSaveFailed, ErrorCategory.WriteError, _path));
        }

        /// <summary>Runs a store call whose refusal ends the call (a terminating error with the store's ErrorId).</summary>
        private void StoreCall(Action action)
        {
            try
            {
                action();
            }
            catch (CheckpointException e)
            {
                ThrowTerminatingError(CheckpointErrors.ToRecord(e, _path));
            }
        }

        /// <summary>Saves what finished (never loses a recorded result), then releases the lock and the runspaces.</summary>
        protected override void DisposeResources()
        {
            // On SIGTERM what finished is saved first: the cleanup scripts may use up the bound.
            if (_termination?.Signalled == true) FlushQuietly();
            base.DisposeResources();
            if (_session is null)
            {
                _termination?.Dispose();
                return;
            }

            try
            {
                FlushQuietly();
            }
            finally
            {
                _session.Dispose();
                _session = null;

                // Last: the exit SIGTERM held off may go on now that everything is saved and closed.
                _termination?.Dispose();
            }
        }

        /// <summary>Saves what finished and is not saved yet; a failure leaves it pending (a resume runs it).</summary>
        private void FlushQuietly()
        {
            if (_session is null) return;
            try
            {
                if (_saveError is null && !_completed) _session.Flush();
            }
            catch (Exception e) when (e is CheckpointException || e is IOException || e is UnauthorizedAccessException || e is RuntimeException)
            {
                // Disposing after a failure: what was not saved stays pending and re-runs on resume.
            }
        }
    }
}
