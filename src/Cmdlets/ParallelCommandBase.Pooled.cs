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
    // A call given -Pool (local or remote): what it may not set, and its engine on the pool's workers.
    public abstract partial class ParallelCommandBase
    {
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
                    throw new CommandErrorException(new ErrorRecord(new ArgumentException(UserText.Format(Strings.SettingBelongsToPool, name)), ErrorIds.PoolSettingConflictId, ErrorCategory.InvalidArgument, pool));
                }
            }

            // How the workers run belongs to the pool (New-ParallelPool -Isolation Process); a
            // call that asked otherwise must not run silently the pool's way.
            foreach (string name in new[] { nameof(Isolation), nameof(MaxItemsPerWorker), nameof(MaxWorkerMemoryMB) })
            {
                if (MyInvocation.BoundParameters.ContainsKey(name))
                {
                    throw new CommandErrorException(new ErrorRecord(new ArgumentException(UserText.Format(Strings.IsolationNotWithPool, name)), ErrorIds.PoolSettingConflictId, ErrorCategory.InvalidArgument, pool));
                }
            }

            bool throttleGiven = MyInvocation.BoundParameters.ContainsKey(nameof(ThrottleLimit));
            if (throttleGiven && ThrottleLimit > pool.Size)
            {
                throw new CommandErrorException(new ErrorRecord(new ArgumentException(UserText.Format(Strings.ThrottleAbovePool, ThrottleLimit, pool.Size)), ErrorIds.PoolSettingConflictId, ErrorCategory.InvalidArgument, pool));
            }

            if (pool.Channels is ChannelPool channels)
            {
                BeginChannelPooled(pool, channels, itemScript, usingValues, throttleGiven);
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
                throw new CommandErrorException(new ErrorRecord(new InvalidOperationException(e.Message, e), ErrorIds.PoolClosedId, ErrorCategory.ResourceUnavailable, pool));
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
        /// A call on a pool made with -Session or -Isolation Process: its workers borrow the pool's
        /// connections to the hosts or its worker processes (<see cref="ChannelPool"/>), add the
        /// call's variables, preferences and (for processes) location, and give them back after
        /// the call's last item with those undone.
        /// </summary>
        private void BeginChannelPooled(ParallelPool pool, ChannelPool channels, string itemScript, Dictionary<string, object?> usingValues, bool throttleGiven)
        {
            var setup = new RunspaceSetup(BuildSessionTemplate(usingValues, out var scriptBlocks), itemScript, null, null)
            {
                ScriptBlockVariables = scriptBlocks,
                ResultDepth = ResultSerializationDepth,
                NewSpill = ResultSpillSource,

                // A worker process starts each call in the caller's location, as a runspace does.
                WorkingDirectory = channels.Sessions is null ? SessionState.Path.CurrentFileSystemLocation.ProviderPath : null,
            };
            var options = BuildOptions();
            IWorkerSource<object?, object?> source;
            if (channels.Sessions is PSSession[] sessions)
            {
                source = RemoteWorkerSource.For(setup, sessions, channels.PerSession, !NoComputerName, channels);
                RemoteWorkerSource.Tune(options, BatchSize);
            }
            else
            {
                source = ProcessWorkerSource.For(setup, 0, 0, channels);
                if (BatchSize == 0) options.TargetBatchDuration = ProcessWorkerSource.TargetBatchDuration;
            }

            try
            {
                _lease = pool.Reserve(throttleGiven ? ThrottleLimit : pool.Size, InitialSessionState.Create(), _stopSource.Token);
            }
            catch (ObjectDisposedException e)
            {
                throw new CommandErrorException(new ErrorRecord(new InvalidOperationException(e.Message, e), ErrorIds.PoolClosedId, ErrorCategory.ResourceUnavailable, pool));
            }
            catch (OperationCanceledException)
            {
                throw new PipelineStoppedException();
            }

            options.ThrottleLimit = _lease.Throttle;
            _progressId = Math.Abs(GetHashCode() % 100000) + 1;
            _engine = ParallelEngine.CreateWithSource<object?, object?>(options, source, this);
        }
    }
}
