using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;

namespace ParallelMap.Engine
{
    /// <summary>
    /// A parallel map over items submitted by one caller thread, on a pool of workers that each run
    /// on a dedicated thread.
    /// </summary>
    /// <remarks>
    /// <para>
    /// One lock guards the input queue, the outbox of outcomes and the worker list. A caller
    /// submit-and-collect is one lock acquisition; a worker's publish-results-and-take-batch is one
    /// lock acquisition per batch. Side records are published at once; outcomes are buffered by
    /// the worker for at most about a millisecond, or until the caller is waiting.
    /// </para>
    /// <para>
    /// Every submitted item ends in exactly one <see cref="ItemOutcome{TIn, TOut}"/>: a worker
    /// finishing an attempt, the watchdog timing it out and a stop cancelling it all compete for
    /// it through one compare-and-swap on the attempt, and only the winner reports.
    /// </para>
    /// <para>
    /// Stop bound: <see cref="Stop"/> reports every unfinished item at once (cancelled or not run)
    /// and aborts the busy workers; the caller's wait therefore ends within one idle-callback
    /// interval, whether or not a worker honours its abort. Workers then run their end; a worker
    /// still inside the interrupted call half a second after its abort (it ignores the abort), or
    /// still in its end after <see cref="EngineOptions.ShutdownTimeout"/>, is abandoned: its thread
    /// is a background thread, and its end still runs when the call comes back.
    /// </para>
    /// <para>
    /// Lock order (the one rule every part keeps): the engine lock <c>_lock</c> first, then a
    /// worker's <see cref="WorkerSlot{TIn, TOut}.Sync"/>. A thread holding a <c>slot.Sync</c> never
    /// takes <c>_lock</c>, and never holds two slots' <c>Sync</c> at once. <c>slot.Sync</c> guards
    /// what the worker, the watchdog and a stop race on (the current attempt, the rest of the
    /// batch, the buffered outcomes), so the per-item path of a worker takes only its own slot
    /// lock. Nothing calls the sink, a worker, or waits on a thread while holding either lock
    /// (waits on a <see cref="WaitQueue"/> release the engine lock first). Fields marked "(lock)"
    /// are guarded by <c>_lock</c>; <see cref="AssertInvariants"/> checks them in DEBUG builds.
    /// The <see cref="BeginGate"/>'s monitor is a leaf: taken with no other lock held, and nothing
    /// else is taken under it.
    /// </para>
    /// <para>
    /// The parts, one file each: delivery and the reorder window (the caller's side,
    /// ParallelEngine.Delivery.cs), queueing and taking batches (Scheduling), the worker thread
    /// (WorkerThread), a worker's outcome buffering (Publishing), retries (Retry), the timeout
    /// watchdog (Watchdog), stop, fault and dispose (Stop), and the counters (Progress).
    /// </para>
    /// </remarks>
    /// <typeparam name="TIn">The input type.</typeparam>
    /// <typeparam name="TOut">The output type.</typeparam>
    public sealed partial class ParallelEngine<TIn, TOut> : IDisposable
    {
        private const int RunningState = 1;
        private const int ClaimedState = 2;

        /// <summary>
        /// How long after its abort a worker still inside the interrupted call is waited for by a
        /// shutdown before its thread is abandoned (at most <see cref="EngineOptions.ShutdownTimeout"/>).
        /// Long enough for a call that honours the abort to come back; short enough that a stop or
        /// a timeout returns within a second.
        /// </summary>
        private static readonly TimeSpan StuckWorkerGrace = TimeSpan.FromMilliseconds(500);

        /// <summary>Buffered outcomes a worker publishes without waiting for its batch to end.</summary>
        private const int WorkerFlushCount = 32;

        private readonly EngineOptions _options;
        /// <summary>Makes the workers (<see cref="IWorkerSource{TIn, TOut}"/>): the one place a worker kind is chosen.</summary>
        private readonly IWorkerSource<TIn, TOut> _source;
        private readonly IEngineSink<TIn, TOut> _sink;
        private readonly int _callerThreadId;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly BatchSizer _sizer;
        private readonly Backoff _backoff;
        private readonly RateEstimator _rate = new RateEstimator();
        private readonly long _flushTicks = Stopwatch.Frequency / 1000;

        /// <summary>Below this average item time (20 µs) a busy worker is back before a parked one would wake.</summary>
        private readonly long _fastItemTicks = Stopwatch.Frequency / 50_000;
        private readonly int _reorderWindow;
        private readonly CancellationTokenRegistration _cancelRegistration;

        /// <summary>Limits the workers in their begin at once; null for no limit.</summary>
        private readonly BeginGate? _beginGate;

        /// <summary>Guards every field marked "(lock)".</summary>
        private readonly object _lock = new object();

        /// <summary>Items waiting for a worker (lock).</summary>
        private readonly Queue<WorkEntry> _input = new Queue<WorkEntry>();

        /// <summary>Items waiting for their retry delay to pass (lock).</summary>
        private readonly List<WorkEntry> _delayed = new List<WorkEntry>();

        /// <summary>Workers that count against the throttle limit (lock).</summary>
        private readonly List<WorkerSlot<TIn, TOut>> _live = new List<WorkerSlot<TIn, TOut>>();

        /// <summary>Every worker thread not yet exited, aborted ones included (lock).</summary>
        private readonly List<WorkerSlot<TIn, TOut>> _threads = new List<WorkerSlot<TIn, TOut>>();

        /// <summary>Workers discarded after a timeout, for the next worker started to replace (lock).</summary>
        private readonly Queue<Worker<TIn, TOut>> _broken = new Queue<Worker<TIn, TOut>>();

        /// <summary>Workers waiting for input.</summary>
        private readonly WaitQueue _workerWait = new WaitQueue();

        /// <summary>The caller waiting for outcomes, input room or worker exits.</summary>
        private readonly WaitQueue _callerWait = new WaitQueue();

        /// <summary>Workers waiting for room in the outbox.</summary>
        private readonly WaitQueue _roomWait = new WaitQueue();

        /// <summary>Wakes the watchdog early (a retry was scheduled, or the engine is disposed).</summary>
        private readonly ManualResetEventSlim _watchdogWake = new ManualResetEventSlim(false);

        /// <summary>Records and outcomes for the caller, in publication order (lock).</summary>
        private List<object> _outbox = new List<object>();

        /// <summary>
        /// Outputs inside <see cref="ItemOutputs{TOut}"/> records in the outbox (lock). A streamed
        /// record carries many outputs, so it is weighed by them: a worker streaming a big item
        /// waits while this reaches <see cref="StreamedCapacity"/>, which bounds the memory a big
        /// item holds however large its records are.
        /// </summary>
        private int _outboxStreamed;

        /// <summary>The most streamed outputs the outbox holds before a streaming worker waits.</summary>
        private int StreamedCapacity => _options.OutcomeCapacity * 2;

        /// <summary>An empty list to swap with the outbox (caller thread).</summary>
        private List<object>? _spareOutbox = new List<object>();

        /// <summary>A taken outbox whose delivery a throwing sink interrupted (caller thread).</summary>
        private List<object>? _undelivered;
        private int _undeliveredIndex;

        /// <summary>Ordered mode: outcomes waiting for their turn, at sequence modulo window (caller thread).</summary>
        private readonly ItemOutcome<TIn, TOut>?[]? _window;

        /// <summary>Ordered mode: the next sequence to deliver (caller thread).</summary>
        private long _nextToDeliver;

        /// <summary>Outcomes handed to the sink (caller thread).</summary>
        private long _delivered;

        /// <summary>Items submitted; written by the caller, read anywhere.</summary>
        private long _submitted;

        private bool _inputCompleted;   // (lock)
        private bool _inputCompletedByCaller; // (caller thread) the same, readable without the lock
        private bool _stopping;         // (lock); read racily as a hint elsewhere
        private StopReason _stopReason; // (lock)
        private Exception? _fault;      // (lock)
        private int _workersBeginning;  // (lock) created and not yet at their first take
        private int _nextWorkerId;      // (lock)
        private int _disposed;
        private long _shutdownDeadline;
        private Thread? _watchdog;

        /// <summary>Final outcomes by status, counted as they enter the outbox (lock).</summary>
        private long _completed, _succeeded, _failed, _timedOut, _cancelled, _notRun;
        private long _retries;          // (interlocked)

        internal ParallelEngine(EngineOptions options, IWorkerSource<TIn, TOut> source, IEngineSink<TIn, TOut> sink, CancellationToken token)
        {
            _options = options;
            _source = source;
            _sink = sink;
            _callerThreadId = Environment.CurrentManagedThreadId;
            _sizer = new BatchSizer(options.TargetBatchDuration, options.MaxBatchSize);
            _backoff = new Backoff(options.RetryDelay, options.MaxRetryDelay, options.RandomSeed);
            _reorderWindow = options.EffectiveReorderWindow;
            if (options.BeginConcurrency > 0 && options.BeginConcurrency < options.ThrottleLimit) _beginGate = new BeginGate(options.BeginConcurrency);
            if (options.Ordered) _window = new ItemOutcome<TIn, TOut>?[_reorderWindow];
            if (options.ItemTimeout is not null || options.MaxRetries > 0)
            {
                _watchdog = new Thread(WatchdogMain) { IsBackground = true, Name = options.ThreadNamePrefix + " watchdog" };
                _watchdog.Start();
            }

            if (token.CanBeCanceled) _cancelRegistration = token.Register(() => StopCore(StopReason.Requested));
        }

        /// <summary>Why the run stopped early, if it did.</summary>
        public StopReason StopReason
        {
            get { lock (_lock) return _stopReason; }
        }

        /// <summary>The error that faulted the run (a worker that could not start), if any.</summary>
        public Exception? Fault
        {
            get { lock (_lock) return _fault; }
        }

        /// <summary>True once every submitted item's outcome has been delivered and the input is complete.</summary>
        public bool IsCompleted
        {
            get
            {
                lock (_lock) return _inputCompleted && _delivered == _submitted && _undelivered is null;
            }
        }

        /// <summary>Worker threads alive now, aborted ones still unwinding included.</summary>
        public int ThreadCount
        {
            get { lock (_lock) return _threads.Count; }
        }

        /// <summary>
        /// Checks the relations between the lock-guarded fields (DEBUG builds only; call with the
        /// engine lock held, after a mutation). Written like dotnet/runtime's
        /// <c>BoundedChannel.AssertInvariants</c>: each line is one rule the rest of the code relies on.
        /// </summary>
        [Conditional("DEBUG")]
        private void AssertInvariants()
        {
            Debug.Assert(Monitor.IsEntered(_lock), "The invariants are read under the engine lock.");

            // Every final outcome is counted once, under one status; timed-out ones count as failed too.
            Debug.Assert(_completed == _succeeded + _failed + _cancelled + _notRun, "Every counted outcome has exactly one status.");
            Debug.Assert(_timedOut <= _failed, "A timed-out item is also a failed one.");
            Debug.Assert(_completed <= Volatile.Read(ref _submitted), "No item completes that was not submitted.");

            // A stop reports everything unstarted at once and schedules no retry afterwards.
            Debug.Assert(_stopping == (_stopReason != StopReason.None), "A stop always has a reason.");
            Debug.Assert(!_stopping || (_input.Count == 0 && _delayed.Count == 0), "After a stop nothing waits to run.");

            // The throttle counts live workers; every live worker still has a thread being tracked.
            Debug.Assert(_live.Count <= _options.ThrottleLimit, "No more live workers than the throttle limit.");
            Debug.Assert(_live.Count <= _threads.Count, "Every live worker has a tracked thread.");
            Debug.Assert(_workersBeginning >= 0 && _workersBeginning <= _live.Count, "Workers still beginning are live workers.");
            Debug.Assert(_threads.Count <= _nextWorkerId, "Every tracked thread was started here.");
        }
    }
}
