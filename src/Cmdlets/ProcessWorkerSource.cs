using System;
using System.Collections.Generic;
using System.Management.Automation;
using ParallelMap.Engine;

namespace ParallelMap.Commands
{
    /// <summary>The workers of -Isolation Process: each runs its items in child processes of its own (<see cref="ProcessEndpoint"/>).</summary>
    internal sealed class ProcessWorkerSource : ChannelWorkerSource
    {
        private readonly ChannelPool? _pool;

        internal ProcessWorkerSource(ProcessSetup setup, ChannelPool? pool = null)
            : base(setup)
        {
            _pool = pool;
        }

        /// <summary>The work automatic batching hands a worker process at once: each batch costs one round trip between processes.</summary>
        internal static readonly TimeSpan TargetBatchDuration = TimeSpan.FromMilliseconds(50);

        /// <summary>The source for a run's setup and the recycling limits (0: none); with <paramref name="pool"/>, its workers borrow the pool's processes.</summary>
        internal static ProcessWorkerSource For(RunspaceSetup setup, int maxItemsPerWorker, int maxWorkerMemoryMB, ChannelPool? pool = null)
        {
            ProcessSetup process = ProcessSetup.From(setup);
            process.MaxItemsPerWorker = maxItemsPerWorker;
            process.MaxWorkingSetBytes = maxWorkerMemoryMB * 1024L * 1024L;
            return new ProcessWorkerSource(process, pool);
        }

        /// <summary>Refuses the recycling limits without -Isolation Process (ErrorId ProcessIsolationRequired).</summary>
        internal static void CheckParameters(WorkerIsolation isolation, IDictionary<string, object> bound, bool remote)
        {
            // With -Session the remote source refuses them, saying why.
            if (isolation == WorkerIsolation.Process || remote) return;
            foreach (string name in new[] { "MaxItemsPerWorker", "MaxWorkerMemoryMB" })
            {
                if (bound.ContainsKey(name))
                {
                    throw new CommandErrorException(new ErrorRecord(new ArgumentException(UserText.Format(Strings.ProcessIsolationRequired, name)), ErrorIds.ProcessIsolationRequiredId, ErrorCategory.InvalidArgument, name));
                }
            }
        }

        protected override ChannelEndpoint MakeEndpoint(int workerId) => new ProcessEndpoint(Setup.WorkingDirectory, _pool);
    }
}
