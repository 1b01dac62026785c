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
    /// <summary>The summary Start-ResumableBatch returns at the end of a run.</summary>
    public sealed class ResumableBatchResult
    {
        internal ResumableBatchResult(string path, long total, long done, long failed, long skipped, long rejected, long pending, TimeSpan elapsed)
        {
            Path = path;
            Total = total;
            Done = done;
            Failed = failed;
            Skipped = skipped;
            Rejected = rejected;
            Pending = pending;
            Elapsed = elapsed;
        }

        /// <summary>The checkpoint folder.</summary>
        public string Path { get; }

        /// <summary>Items seen in this run.</summary>
        public long Total { get; }

        /// <summary>Items of this run whose results were saved.</summary>
        public long Done { get; }

        /// <summary>Items of this run that failed (recorded with their errors).</summary>
        public long Failed { get; }

        /// <summary>Items skipped because an earlier run recorded them (done, or failed without -RetryFailed).</summary>
        public long Skipped { get; }

        /// <summary>Items refused for their key (null, empty, invalid, a duplicate in this run, or a -KeyScript that failed): never run nor recorded.</summary>
        public long Rejected { get; }

        /// <summary>Items of this run left to do (the run stopped early); a resume runs them.</summary>
        public long Pending { get; }

        /// <summary>Wall time of this run.</summary>
        public TimeSpan Elapsed { get; }
    }

    /// <summary>
    /// <para type="synopsis">Runs a script block over keyed items in parallel, checkpointing to a folder so an interrupted batch resumes where it stopped.</para>
    /// </summary>
    [Cmdlet(VerbsLifecycle.Start, "ResumableBatch", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ItemIsKeySet)]
    [OutputType(typeof(ResumableBatchResult))]
    public sealed class StartResumableBatchCommand : ParallelCommandBase
    {
        private const string KeyPropertySet = "KeyProperty";
        private const string KeyScriptSet = "KeyScript";
        private const string ItemIsKeySet = "ItemIsKey";

        private readonly Stopwatch _clock = new Stopwatch();

        /// <summary>The key of each submitted item, by engine sequence number, until its outcome arrives.</summary>
        private readonly Dictionary<long, string> _keysInFlight = new Dictionary<long, string>();

        /// <summary>With -SaveScript: the result objects of the chunk being filled, by key.</summary>
        private readonly Dictionary<string, object?[]> _chunkObjects = new Dictionary<string, object?[]>(StringComparer.Ordinal);

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
                ThrowTerminatingError(new ErrorRecord(new DirectoryNotFoundException(Strings.Format(Strings.CheckpointParentMissing, _path, parent)), Strings.CheckpointPathNotFoundId, ErrorCategory.ObjectNotFound, _path));
            }

            // -WhatIf (or a declined -Confirm) runs nothing and touches nothing.
            if (!ShouldProcess(_path, Restart ? Strings.RestartAction : Strings.RunAction))
            {
                _declined = true;
                return;
            }

            if (Restart && Directory.Exists(_path))
            {
                ThrowIfNotDiscardable(_path);

                // Discarding recorded results always asks, unless -Force: a scheduled task that
                // restarts on purpose says -Force; a non-interactive run without it fails here.
                if (!(Force || ConfirmDeclinedExplicitly || ShouldContinue(Strings.Format(Strings.RestartQuery, _path), Strings.RestartAction)))
                {
                    _declined = true;
                    return;
                }

                Discard(_path);
            }

            var options = new CheckpointOptions
            {
                Fingerprint = FingerprintFor(_path),
                AllowFingerprintMismatch = Force,
                ChunkSize = ChunkSize,
                ChunkMaxAge = TimeSpan.FromSeconds(ChunkSeconds),

                // Full chunks are written and fsynced while items keep flowing (a -SaveScript
                // still runs here, on the caller's thread).
                BackgroundSave = true,
                Metadata = new Dictionary<string, string> { ["command"] = "Start-ResumableBatch", ["script"] = ScriptBlock.ToString() },
            };
            if (SaveScript is not null) options.SaveHook = RunSaveScript;
            try
            {
                _session = CheckpointStore.Open(_path, options);
            }
            catch (CheckpointException e) when (e.ErrorId == CheckpointErrorIds.CheckpointFingerprintMismatch)
            {
                // The store's message cannot know this cmdlet's way out: say it.
                ThrowTerminatingError(CheckpointErrors.ToRecord(new CheckpointException(e.ErrorId, Strings.Format(Strings.FingerprintMismatch, _path), e.FilePath, e), _path));
            }
            catch (CheckpointException e)
            {
                ThrowTerminatingError(CheckpointErrors.ToRecord(e, _path));
            }
            catch (ArgumentException e)
            {
                ThrowTerminatingError(new ErrorRecord(new ArgumentException(UserText.WithoutParameterName(e), e), Strings.CheckpointPathNotFoundId, ErrorCategory.InvalidArgument, _path));
            }

            if (_session!.TookOverStaleLockFrom is CheckpointLockHolder stale)
            {
                WriteVerbose(Strings.Format(Strings.TookOverStaleLock, stale));
            }

            if (_session.DroppedTornTail) WriteVerbose(Strings.DroppedTornTail);
            base.BeginProcessing();

            // SIGTERM stops the run as Ctrl-C does (StopProcessing is safe from any thread and
            // writes nothing); the pipeline thread then saves in DisposeResources and releases it.
            _termination = TerminationSignal.Register(StopProcessing, TerminationBound);
        }

        /// <summary>
        /// What this batch runs, as the checkpoint remembers it. Since version 2 the script blocks are
        /// fingerprinted by their tokens (<see cref="ScriptFingerprint"/>), so comments and white space
        /// do not count; a checkpoint made with version 1 (the exact text) resumes as long as the
        /// text is unchanged, and keeps its version-1 fingerprint (the manifest is never rewritten).
        /// </summary>
        private string FingerprintFor(string path)
        {
            string keyScript = KeyScript?.ToString() ?? string.Empty;
            string current = CheckpointStore.ComputeFingerprint("Start-ResumableBatch/2", ScriptFingerprint.Normalize(ScriptBlock.ToString()), ParameterSetName, KeyProperty ?? string.Empty, KeyScript is null ? string.Empty : ScriptFingerprint.Normalize(keyScript));
            if (Restart || !File.Exists(System.IO.Path.Combine(path, CheckpointLayout.ManifestName))) return current;
            string stored;
            try
            {
                stored = CheckpointStore.ReadManifest(path).Fingerprint;
            }
            catch (CheckpointException)
            {
                return current; // Open reports what is wrong with it.
            }

            string version1 = CheckpointStore.ComputeFingerprint("Start-ResumableBatch/1", ScriptBlock.ToString(), ParameterSetName, KeyProperty ?? string.Empty, keyScript);
            return string.Equals(stored, version1, StringComparison.Ordinal) ? version1 : current;
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
                ThrowTerminatingError(new ErrorRecord(new ArgumentException(Strings.Format(Strings.UsingInKeyScript, name)), Strings.UsingInKeyScriptId, ErrorCategory.InvalidArgument, KeyScript));
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
                WriteError(new ErrorRecord(new InvalidOperationException(Strings.Format(Strings.KeyScriptFailed, e.Message), e), Strings.KeyScriptFailedId, ErrorCategory.InvalidData, item));
                return;
            }

            if (string.IsNullOrEmpty(key))
            {
                _rejected++;
                WriteError(new ErrorRecord(new ArgumentException(Strings.KeyNullOrEmpty), Strings.KeyNullOrEmptyId, ErrorCategory.InvalidData, item));
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
                WriteError(new ErrorRecord(new ArgumentException(Strings.Format(Strings.KeyInvalid, UserText.WithoutParameterName(e)), e), Strings.KeyInvalidId, ErrorCategory.InvalidData, item));
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

        /// <summary>
        /// The item's key. Values become text as PowerShell's [string] does, in the invariant
        /// culture: a key must not change with the culture of the account that resumes the batch.
        /// </summary>
        private string? KeyOf(object? item)
        {
            object? baseObject = item is PSObject pso ? pso.BaseObject : item;
            switch (ParameterSetName)
            {
                case KeyPropertySet:
                    if (baseObject is null) return null;
                    if (baseObject is IDictionary dictionary)
                    {
                        return KeyText(dictionary.Contains(KeyProperty) ? dictionary[KeyProperty] : null);
                    }

                    return KeyText((item as PSObject ?? PSObject.AsPSObject(baseObject)).Properties[KeyProperty]?.Value);
                case KeyScriptSet:
                    var results = KeyScript.InvokeWithContext(null, new List<PSVariable> { new PSVariable("_", item), new PSVariable("PSItem", item) });
                    return results.Count == 0 ? null : KeyText(results[0]);
                default:
                    if (baseObject is null) return null;
                    if (baseObject is string s) return s;
                    ThrowTerminatingError(new ErrorRecord(new ArgumentException(Strings.KeyRequired), Strings.KeyRequiredId, ErrorCategory.InvalidArgument, item));
                    return null;
            }
        }

        private static string? KeyText(object? value)
        {
            if (value is null || value is PSObject { BaseObject: null }) return null;
            return (string)LanguagePrimitives.ConvertTo(value, typeof(string), CultureInfo.InvariantCulture);
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
                        _chunkObjects[key] = ToArray(outcome.Outputs);
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

        /// <summary>The -SaveScript hook: called on this (the pipeline) thread from inside a store call.</summary>
        private void RunSaveScript(string chunkPath, IReadOnlyList<byte[]> payloads, IReadOnlyList<string> keys)
        {
            var results = new object?[keys.Count];
            for (int i = 0; i < keys.Count; i++)
            {
                results[i] = _chunkObjects.TryGetValue(keys[i], out object?[]? r) ? (r.Length == 1 ? r[0] : r) : null;
            }

            var keyArray = new string[keys.Count];
            for (int i = 0; i < keys.Count; i++) keyArray[i] = keys[i];
            // Any error the hook writes fails the save, as a throw does: keys whose results were
            // not written must never be recorded done.
            SaveScript!.InvokeWithContext(null, new List<PSVariable> { new PSVariable("ErrorActionPreference", ActionPreference.Stop) }, chunkPath, results, keyArray);
            foreach (string k in keys) _chunkObjects.Remove(k);
        }

        /// <summary>Refuses (terminating) to discard a checkpoint in use, or a folder that is not only a checkpoint.</summary>
        private void ThrowIfNotDiscardable(string path)
        {
            CheckpointSummary? summary = null;
            try
            {
                summary = CheckpointStore.ReadSummary(path);
            }
            catch (CheckpointException)
            {
                // A damaged checkpoint may still be discarded on purpose.
            }

            if (summary?.LockHolder is CheckpointLockHolder holder && !summary.LockIsStale)
            {
                ThrowTerminatingError(new ErrorRecord(new InvalidOperationException(Strings.Format(Strings.CheckpointLockedRestart, path, holder)), CheckpointErrorIds.CheckpointLocked, ErrorCategory.ResourceBusy, path));
            }

            // Only a checkpoint is ever deleted: a folder without a manifest, or with anything the
            // checkpoint did not make, is refused (a mistyped -Path must not wipe a project).
            bool hasManifest = File.Exists(System.IO.Path.Combine(path, CheckpointLayout.ManifestName));
            foreach (string entry in Directory.EnumerateFileSystemEntries(path))
            {
                string name = System.IO.Path.GetFileName(entry);
                if (!hasManifest || !CheckpointLayout.IsCheckpointEntry(name))
                {
                    ThrowTerminatingError(new ErrorRecord(
                        new InvalidOperationException(Strings.Format(hasManifest ? Strings.RestartForeignEntry : Strings.RestartNotACheckpoint, path, name)),
                        CheckpointErrorIds.CheckpointFolderNotEmpty,
                        ErrorCategory.InvalidOperation,
                        path));
                }
            }
        }

        private static void Discard(string path)
        {
            // Renamed first, so a crash halfway never leaves a half-deleted checkpoint under the name.
            string doomed = path.TrimEnd(System.IO.Path.DirectorySeparatorChar, System.IO.Path.AltDirectorySeparatorChar) + ".discarded-" + Guid.NewGuid().ToString("N");
            Directory.Move(path, doomed);
            Directory.Delete(doomed, recursive: true);
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

    /// <summary>Maps the store's errors to PowerShell error records with the same ErrorIds.</summary>
    internal static class CheckpointErrors
    {
        internal static ErrorRecord ToRecord(CheckpointException e, string path)
        {
            ErrorCategory category = e.ErrorId switch
            {
                CheckpointErrorIds.CheckpointLocked => ErrorCategory.ResourceBusy,
                CheckpointErrorIds.CheckpointCorrupt => ErrorCategory.InvalidData,
                CheckpointErrorIds.CheckpointVersionUnsupported => ErrorCategory.InvalidData,
                CheckpointErrorIds.CheckpointFingerprintMismatch => ErrorCategory.InvalidOperation,
                CheckpointErrorIds.CheckpointNotWritable => ErrorCategory.PermissionDenied,
                CheckpointErrorIds.CheckpointNotFound => ErrorCategory.ObjectNotFound,
                CheckpointErrorIds.DuplicateKey => ErrorCategory.InvalidData,
                _ => ErrorCategory.NotSpecified,
            };
            return new ErrorRecord(e, e.ErrorId, category, (object?)e.Holder ?? path);
        }
    }
}
