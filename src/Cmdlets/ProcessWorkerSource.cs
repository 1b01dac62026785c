using System;
using System.Collections.Generic;
using System.Management.Automation;
using ParallelMap.Engine;

namespace ParallelMap.Commands
{
    /// <summary>
    /// Makes <see cref="ProcessWorker"/>s for one run (or one pool: nothing here is tied to a
    /// cmdlet call), and keeps the set of child processes alive so that <see cref="CloseAll"/>
    /// can kill any that a stuck or abandoned worker still holds: no child outlives the run.
    /// </summary>
    internal sealed class ProcessWorkerSource : IWorkerSource<object?, object?>
    {
        private readonly ProcessSetup _setup;
        private readonly HashSet<ProcessChild> _children = new HashSet<ProcessChild>();

        internal ProcessWorkerSource(ProcessSetup setup) => _setup = setup;

        /// <summary>The work automatic batching hands a worker process at once: each batch costs one round trip between processes.</summary>
        internal static readonly TimeSpan TargetBatchDuration = TimeSpan.FromMilliseconds(50);

        /// <summary>The source for a run's setup and the recycling limits (0: none).</summary>
        internal static ProcessWorkerSource For(RunspaceSetup setup, int maxItemsPerWorker, int maxWorkerMemoryMB)
        {
            ProcessSetup process = ProcessSetup.From(setup);
            process.MaxItemsPerWorker = maxItemsPerWorker;
            process.MaxWorkingSetBytes = maxWorkerMemoryMB * 1024L * 1024L;
            return new ProcessWorkerSource(process);
        }

        /// <summary>Refuses the recycling limits without -Isolation Process (ErrorId ProcessIsolationRequired).</summary>
        internal static void CheckParameters(WorkerIsolation isolation, IDictionary<string, object> bound)
        {
            if (isolation == WorkerIsolation.Process) return;
            foreach (string name in new[] { "MaxItemsPerWorker", "MaxWorkerMemoryMB" })
            {
                if (bound.ContainsKey(name))
                {
                    throw new CommandErrorException(new ErrorRecord(new ArgumentException(Strings.Format(ProcessStrings.ProcessIsolationRequired, name)), ProcessStrings.ProcessIsolationRequiredId, ErrorCategory.InvalidArgument, name));
                }
            }
        }

        public Worker<object?, object?> Create(int workerId) => new ProcessWorker(_setup, this);

        public Worker<object?, object?> Replace(Worker<object?, object?> broken, int workerId)
        {
            // The timed-out worker's child may be deaf to the abort (a native call): it was killed
            // by Abort; killing again is harmless and covers an abort that raced with its start.
            broken.Abort();
            return new ProcessWorker(_setup, this);
        }

        public void CloseAll()
        {
            ProcessChild[] left;
            lock (_children)
            {
                left = new ProcessChild[_children.Count];
                _children.CopyTo(left);
                _children.Clear();
            }

            foreach (var c in left) c.Kill();
        }

        internal void Track(ProcessChild child)
        {
            lock (_children) _children.Add(child);
        }

        internal void Forget(ProcessChild child)
        {
            lock (_children) _children.Remove(child);
        }
    }
}
