using System.Collections.Generic;
using System.Threading;

namespace ParallelMap.Engine
{
    /// <summary>The engine's bookkeeping for one worker and its thread.</summary>
    internal sealed class WorkerSlot<TIn, TOut> : IRecordPublisher
    {
        internal readonly ParallelEngine<TIn, TOut> Core;
        internal readonly int Id;

        /// <summary>Guards <see cref="Local"/>, <see cref="Current"/> and the attempt fields against the watchdog and Stop.</summary>
        internal readonly object Sync = new object();

        /// <summary>The rest of the batch this worker took (Sync).</summary>
        internal readonly Queue<ParallelEngine<TIn, TOut>.WorkEntry> Local = new Queue<ParallelEngine<TIn, TOut>.WorkEntry>();

        /// <summary>Outcomes finished and not yet published (Sync; the caller takes them before it sleeps).</summary>
        internal readonly List<object> Pending = new List<object>();

        internal readonly CancellationTokenSource AbortSource = new CancellationTokenSource();
        internal readonly ItemContext<TOut> Context;
        internal Thread? Thread;
        internal Worker<TIn, TOut>? Worker;

        /// <summary>The discarded worker this one replaces, until the source has been asked for the replacement.</summary>
        internal Worker<TIn, TOut>? Replaces;
        internal ParallelEngine<TIn, TOut>.WorkEntry? Current;
        internal int CurrentAttempt;
        internal long CurrentStart;

        /// <summary>When the current item began waiting for its turn to stream (ordered runs), 0 when it is not (Sync): the watchdog does not count the wait.</summary>
        internal long TurnWaitSince;
        internal long PendingSince;

        /// <summary>Set once the worker must take no more items (timed out, stopped, exiting).</summary>
        internal volatile bool Aborted;

        /// <summary>True until the worker's Begin has finished (engine lock): a worker still opening (a remote connection) is one that will come for items.</summary>
        internal bool Beginning = true;

        /// <summary>Set once the worker was interrupted (timeout or stop): shutdown waits for it only so long.</summary>
        internal volatile bool AbortRequested;

        /// <summary>When the worker was first interrupted inside an item, in engine clock ticks; 0 if never (written before <see cref="AbortRequested"/>).</summary>
        internal long AbortedAtTicks;

        /// <summary>
        /// Set once the worker's thread is back from whatever it was doing (its begin or an item)
        /// and runs its end or exits: from then on a shutdown waits for its end like any cleanup.
        /// </summary>
        internal volatile bool Ending;

        /// <summary>Set when the worker reported its place lost (<see cref="WorkerLostException"/>); read by its thread as it exits.</summary>
        internal WorkerLostException? Lost;

        internal WorkerSlot(ParallelEngine<TIn, TOut> core, int id)
        {
            Core = core;
            Id = id;
            Context = new ItemContext<TOut>(this);
        }

        void IRecordPublisher.PublishItemRecord(object record)
        {
            var current = Current;
            if (current is not null && record is ItemOutputs<TOut>) current.OutputsStreamed = true;
            var rec = current is null
                ? new WorkerRecord<TIn>(-1, default!, 0, Id, record)
                : new WorkerRecord<TIn>(current.Sequence, current.Input, CurrentAttempt, Id, record);
            Core.PublishRecord(this, rec);
        }

        bool IRecordPublisher.MayStream(int held) => Core.MayStream(this, held);
    }
}
