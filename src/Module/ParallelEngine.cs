using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;

namespace ParallelMap.Engine
{
    /// <summary>Creates engines.</summary>
    public static class ParallelEngine
    {
        /// <summary>
        /// Creates an engine whose caller thread is the calling thread. Nothing starts until the
        /// first item is submitted; workers are then created lazily up to the throttle limit.
        /// </summary>
        /// <param name="options">The settings (copied: later changes do not reach the engine).</param>
        /// <param name="workerFactory">Makes worker number N (from 1); called on that worker's own thread.</param>
        /// <param name="sink">Receives records and outcomes on the caller's thread.</param>
        /// <param name="cancellationToken">Stops the run when cancelled, as <see cref="ParallelEngine{TIn, TOut}.Stop"/> does.</param>
        /// <typeparam name="TIn">The input type.</typeparam>
        /// <typeparam name="TOut">The output type.</typeparam>
        /// <returns>The engine.</returns>
        public static ParallelEngine<TIn, TOut> Create<TIn, TOut>(EngineOptions options, Func<int, Worker<TIn, TOut>> workerFactory, IEngineSink<TIn, TOut> sink, CancellationToken cancellationToken = default)
        {
            if (options is null) throw new ArgumentNullException(nameof(options));
            if (workerFactory is null) throw new ArgumentNullException(nameof(workerFactory), Messages.WorkerFactoryNull);
            if (sink is null) throw new ArgumentNullException(nameof(sink));
            return new ParallelEngine<TIn, TOut>(options.Clone(), workerFactory, sink, cancellationToken);
        }
    }

    /// <summary>The error that stops a run when a worker cannot start or breaks outside any item.</summary>
    public sealed class WorkerFaultedException : Exception
    {
        /// <summary>Creates the error.</summary>
        /// <param name="workerId">The worker.</param>
        /// <param name="duringBegin">True when the worker's initialization failed.</param>
        /// <param name="inner">What went wrong.</param>
        public WorkerFaultedException(int workerId, bool duringBegin, Exception inner)
            : base(Messages.Format(duringBegin ? Messages.WorkerBeginFailed : Messages.WorkerExecuteFailed, workerId, inner.Message), inner)
        {
            WorkerId = workerId;
            DuringBegin = duringBegin;
        }

        /// <summary>The worker that failed.</summary>
        public int WorkerId { get; }

        /// <summary>True when the worker's initialization (begin) failed.</summary>
        public bool DuringBegin { get; }
    }

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
    /// still stuck after <see cref="EngineOptions.ShutdownTimeout"/> is abandoned (its thread is a
    /// background thread).
    /// </para>
    /// </remarks>
    /// <typeparam name="TIn">The input type.</typeparam>
    /// <typeparam name="TOut">The output type.</typeparam>
    public sealed class ParallelEngine<TIn, TOut> : IDisposable
    {
        private const int RunningState = 1;
        private const int ClaimedState = 2;

        /// <summary>Buffered outcomes a worker publishes without waiting for its batch to end.</summary>
        private const int WorkerFlushCount = 32;

        private readonly EngineOptions _options;
        private readonly Func<int, Worker<TIn, TOut>> _factory;
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
        private readonly SemaphoreSlim? _beginGate;

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

        internal ParallelEngine(EngineOptions options, Func<int, Worker<TIn, TOut>> factory, IEngineSink<TIn, TOut> sink, CancellationToken token)
        {
            _options = options;
            _factory = factory;
            _sink = sink;
            _callerThreadId = Environment.CurrentManagedThreadId;
            _sizer = new BatchSizer(options.TargetBatchDuration, options.MaxBatchSize);
            _backoff = new Backoff(options.RetryDelay, options.MaxRetryDelay, options.RandomSeed);
            _reorderWindow = options.EffectiveReorderWindow;
            if (options.BeginConcurrency > 0 && options.BeginConcurrency < options.ThrottleLimit) _beginGate = new SemaphoreSlim(options.BeginConcurrency);
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
        /// Submits one item. Blocks while the input (or, in ordered mode, the reorder window) is
        /// full, delivering outcomes meanwhile; before returning it delivers whatever is ready, so
        /// output streams while input is still arriving. After a stop the item is reported
        /// <see cref="ItemStatus.NotRun"/> at once.
        /// </summary>
        /// <param name="input">The item.</param>
        public void Submit(TIn input)
        {
            CheckCaller();
            if (_inputCompletedByCaller) throw new InvalidOperationException(Messages.InputCompleted);
            Exception? fault = Volatile.Read(ref _fault);
            if (fault is not null)
            {
                DeliverReady();
                throw fault;
            }

            if (_undelivered is not null) DeliverReady();
            long seq = _submitted;
            var entry = new WorkEntry(seq, input);
            List<object>? ready = null;
            while (true)
            {
                if (_window is not null && seq - _nextToDeliver >= _reorderWindow)
                {
                    if (WaitForActivity((int)_options.IdleCallbackInterval.TotalMilliseconds)) _sink.OnWait();
                    DeliverReady();
                    continue;
                }

                bool waited = false;
                Monitor.Enter(_lock);
                try
                {
                    if (_stopping)
                    {
                        Volatile.Write(ref _submitted, seq + 1);
                        AddToOutboxLocked(MakeOutcome(entry, ItemStatus.NotRun, null, Array.Empty<TOut>(), TimeSpan.Zero, 0));
                        ready = TakeOutboxLocked();
                        break;
                    }

                    if (_input.Count < _options.InputCapacity)
                    {
                        _input.Enqueue(entry);
                        Volatile.Write(ref _submitted, seq + 1);
                        WakeOrSpawnLocked();

                        // Collect what is ready in the same acquisition: output streams while input arrives.
                        if (_outbox.Count > 0) ready = TakeOutboxLocked();
                        break;
                    }

                    waited = true;
                    WaitLocked(_options.IdleCallbackInterval);
                }
                finally
                {
                    Monitor.Exit(_lock);
                }

                if (waited)
                {
                    _sink.OnWait();
                    DeliverReady();
                }
            }

            if (ready is not null) Deliver(ready);
        }

        /// <summary>Delivers whatever outcomes and records are ready, without blocking.</summary>
        public void Pump()
        {
            CheckCaller();
            DeliverReady();
        }

        /// <summary>Says that no more items will be submitted; workers exit once the queue is empty.</summary>
        public void Complete()
        {
            CheckCaller();
            _inputCompletedByCaller = true;
            lock (_lock)
            {
                if (_inputCompleted) return;
                _inputCompleted = true;
                _workerWait.WakeAll(_lock);
            }
        }

        /// <summary>
        /// Delivers outcomes as they arrive for up to <paramref name="timeout"/>; returns true as soon
        /// as every item submitted so far has been delivered.
        /// </summary>
        /// <param name="timeout">How long to wait at most.</param>
        /// <returns>True when nothing submitted is still outstanding.</returns>
        public bool WaitForOutcomes(TimeSpan timeout)
        {
            CheckCaller();
            long deadline = _clock.ElapsedTicks + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
            while (true)
            {
                DeliverReady();
                if (_delivered == _submitted && _undelivered is null) return true;
                long left = deadline - _clock.ElapsedTicks;
                if (left <= 0) return false;
                WaitForActivity((int)Math.Max(1, Math.Min(int.MaxValue, left * 1000 / Stopwatch.Frequency)));
            }
        }

        /// <summary>
        /// Completes the input and delivers every outcome, calling the sink's OnWait at the idle
        /// interval meanwhile. Throws the run's fault, if a worker could not start.
        /// </summary>
        public void Drain()
        {
            Complete();
            while (!WaitForOutcomes(_options.IdleCallbackInterval))
            {
                _sink.OnWait();
            }

            Exception? fault = Fault;
            if (fault is not null) throw fault;
        }

        /// <summary>
        /// Waits for every worker to run its end and exit, delivering the records they emit
        /// meanwhile; completes the input first. A worker that ends normally is waited for as long
        /// as its end takes (it is the user's cleanup); a worker that was aborted (timeout, stop) is
        /// waited for until <see cref="EngineOptions.ShutdownTimeout"/> after the first shutdown
        /// began, then abandoned. Returns false if some worker was abandoned.
        /// </summary>
        /// <returns>True when every worker thread exited.</returns>
        public bool Shutdown()
        {
            Complete();
            long deadline = ShutdownDeadline();
            while (true)
            {
                DeliverReady();
                bool onlyAborted = true;
                lock (_lock)
                {
                    if (_threads.Count == 0 && _outbox.Count == 0) return true;
                    foreach (var slot in _threads)
                    {
                        if (!slot.AbortRequested) onlyAborted = false;
                    }
                }

                long left = onlyAborted ? deadline - _clock.ElapsedTicks : long.MaxValue;
                if (left <= 0) return false;
                WaitForActivity((int)Math.Max(1, Math.Min(_options.IdleCallbackInterval.TotalMilliseconds, left * 1000 / Stopwatch.Frequency)));
                _sink.OnWait();
            }
        }

        /// <summary>
        /// Stops the run from any thread: unstarted items are reported not run, running ones
        /// cancelled, busy workers aborted. Returns at once; the caller's pending wait ends promptly.
        /// </summary>
        public void Stop() => StopCore(StopReason.Requested);

        /// <summary>A snapshot of the counters.</summary>
        /// <returns>The snapshot.</returns>
        public EngineProgress GetProgress()
        {
            long submitted = Volatile.Read(ref _submitted);
            long completed, succeeded, failed, timedOut, cancelled, notRun;
            bool inputCompleted;
            int workers, running = 0;
            lock (_lock)
            {
                // Take what workers buffered, so the counts are current.
                CollectPendingLocked();
                completed = _completed;
                succeeded = _succeeded;
                failed = _failed;
                timedOut = _timedOut;
                cancelled = _cancelled;
                notRun = _notRun;
                inputCompleted = _inputCompleted;
                workers = _live.Count;
                foreach (var slot in _live)
                {
                    if (Volatile.Read(ref slot.Current) is not null) running++;
                }
            }

            TimeSpan elapsed = _clock.Elapsed;
            double rate = _rate.Sample(elapsed.TotalSeconds, completed);
            long? total = inputCompleted ? submitted : _options.TotalHint is long hint ? Math.Max(hint, submitted) : (long?)null;
            return new EngineProgress(submitted, completed, succeeded, failed, timedOut, cancelled, notRun, running, Interlocked.Read(ref _retries), workers, elapsed, rate, total, inputCompleted);
        }

        /// <summary>
        /// Stops what is still running, waits up to <see cref="EngineOptions.ShutdownTimeout"/> for
        /// the workers to run their end, and releases everything. Records emitted meanwhile are dropped;
        /// call <see cref="Shutdown"/> first to receive them. Safe to call more than once, from any thread.
        /// </summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            _cancelRegistration.Dispose();
            bool finished;
            lock (_lock)
            {
                CollectPendingLocked();
                finished = _inputCompleted && _input.Count == 0 && _delayed.Count == 0 && _completed == _submitted;
            }
            if (!finished) StopCore(StopReason.Requested);
            lock (_lock)
            {
                _inputCompleted = true;
                _workerWait.WakeAll(_lock);
                _roomWait.WakeAll(_lock);
                _callerWait.WakeAll(_lock);
            }

            _watchdogWake.Set();
            long deadline = ShutdownDeadline();
            WorkerSlot<TIn, TOut>[] threads;
            lock (_lock) threads = _threads.ToArray();
            foreach (var slot in threads)
            {
                long left = deadline - _clock.ElapsedTicks;
                slot.Thread?.Join((int)Math.Max(0, left * 1000 / Stopwatch.Frequency));
            }

            _watchdog?.Join((int)Math.Max(0, (deadline - _clock.ElapsedTicks) * 1000 / Stopwatch.Frequency) + 100);
            lock (_lock) _outbox.Clear();
        }

        /// <summary>One deadline for Shutdown and Dispose together, so a stop never waits twice.</summary>
        private long ShutdownDeadline()
        {
            long ticks = (long)(_options.ShutdownTimeout.TotalSeconds * Stopwatch.Frequency);
            long fresh = _clock.ElapsedTicks + ticks;
            long existing = Interlocked.CompareExchange(ref _shutdownDeadline, fresh, 0);
            return existing == 0 ? fresh : existing;
        }

        // ------------------------------------------------------------------ caller side

        private void CheckCaller()
        {
            if (Environment.CurrentManagedThreadId != _callerThreadId) throw new InvalidOperationException(Messages.WrongThread);
        }

        /// <summary>Waits under the lock for any activity; call with the lock held, returns with it held.</summary>
        private void WaitLocked(TimeSpan timeout) => WaitLocked((int)timeout.TotalMilliseconds);

        private void WaitLocked(int ms)
        {
            // A worker buffers finished outcomes while it goes on with its batch; take them now
            // rather than sleep while they wait behind a long item.
            CollectPendingLocked();
            if (_outbox.Count > 0) return;

            // Wakes deferred because items looked fast must not outlive the caller's attention.
            if (_input.Count > 0) _workerWait.WakeAll(_lock);
            _callerWait.ParkLocked(_lock, ms);
        }

        /// <summary>Waits until the outbox has something, a worker exits, or the timeout passes; false if nothing needed waiting for.</summary>
        private bool WaitForActivity(int ms)
        {
            lock (_lock)
            {
                if (_outbox.Count > 0) return false;
                WaitLocked(ms);
                return true;
            }
        }

        /// <summary>Hands the outbox to the sink; resumes a delivery a throwing sink interrupted.</summary>
        private void DeliverReady()
        {
            while (true)
            {
                if (_undelivered is not null)
                {
                    Deliver(_undelivered);
                    continue;
                }

                List<object> batch;
                lock (_lock)
                {
                    if (_outbox.Count == 0) return;
                    batch = TakeOutboxLocked();
                }

                Deliver(batch);
            }
        }

        /// <summary>Swaps the outbox for an empty list (lock held) and frees workers waiting for room.</summary>
        private List<object> TakeOutboxLocked()
        {
            List<object> batch = _outbox;
            _outbox = _spareOutbox ?? new List<object>();
            _spareOutbox = null;
            _roomWait.WakeAll(_lock);
            return batch;
        }

        /// <summary>Delivers a taken outbox; if the sink throws, the rest is kept for the next delivery.</summary>
        private void Deliver(List<object> batch)
        {
            if (!ReferenceEquals(_undelivered, batch))
            {
                _undelivered = batch;
                _undeliveredIndex = 0;
            }

            while (_undeliveredIndex < batch.Count)
            {
                object o = batch[_undeliveredIndex++];
                if (o is ItemOutcome<TIn, TOut> outcome)
                {
                    DeliverOutcome(outcome);
                }
                else
                {
                    _sink.OnRecord((WorkerRecord<TIn>)o);
                }
            }

            batch.Clear();
            _undelivered = null;
            _spareOutbox = batch;
        }

        private void DeliverOutcome(ItemOutcome<TIn, TOut> outcome)
        {
            if (_window is null)
            {
                _delivered++;
                _sink.OnOutcome(outcome);
                return;
            }

            Debug.Assert(outcome.Sequence >= _nextToDeliver && outcome.Sequence < _nextToDeliver + _reorderWindow, "the reorder window bounds what is in flight");
            _window[outcome.Sequence % _reorderWindow] = outcome;
            while (true)
            {
                int at = (int)(_nextToDeliver % _reorderWindow);
                ItemOutcome<TIn, TOut>? next = _window[at];
                if (next is null) return;
                _window[at] = null;
                _nextToDeliver++;
                _delivered++;
                _sink.OnOutcome(next);
            }
        }

        // ------------------------------------------------------------------ scheduling (lock held)

        /// <summary>After work was queued: wake a parked worker, or start one if the throttle allows.</summary>
        private void WakeOrSpawnLocked()
        {
            Debug.Assert(Monitor.IsEntered(_lock));
            if (_stopping || _input.Count == 0) return;
            if (_workerWait.HasSleepers)
            {
                if (!DeferWakeLocked()) _workerWait.WakeOne(_lock);
                return;
            }

            // Only workers still starting will come for this item; start another while the queue
            // holds more items than those, so a short input never opens more workers than items.
            if (_live.Count < _options.ThrottleLimit && _input.Count > _workersBeginning && Volatile.Read(ref _disposed) == 0)
            {
                SpawnLocked();
            }
        }

        /// <summary>
        /// True when waking a parked worker for queued items would cost more than it saves: items
        /// take a few microseconds, a worker is busy and will be back for them sooner than a parked
        /// thread wakes (a kernel call each time), and the queue is not filling up. The caller wakes
        /// everyone before it sleeps, and <see cref="Complete"/> does too, so nothing waits on this.
        /// </summary>
        private bool DeferWakeLocked()
        {
            int busy = _live.Count - _workersBeginning - _workerWait.Waiting;
            return busy > 0 && _sizer.AverageTicks < _fastItemTicks && _input.Count < Math.Max(2, _options.InputCapacity / 2);
        }

        private void SpawnLocked()
        {
            int id = ++_nextWorkerId;
            var slot = new WorkerSlot<TIn, TOut>(this, id);
            _live.Add(slot);
            _threads.Add(slot);
            _workersBeginning++;
            var thread = new Thread(() => WorkerMain(slot), _options.WorkerStackSize)
            {
                IsBackground = true,
                Name = _options.ThreadNamePrefix + " " + id.ToString(System.Globalization.CultureInfo.InvariantCulture),
            };
            slot.Thread = thread;

            // Starting a thread under the lock costs tens of microseconds, once per worker; it keeps
            // the slot lists and the thread's existence consistent for Stop and Dispose.
            thread.Start();
        }

        private int TakeCountLocked()
        {
            int queued = _input.Count;
            if (_options.BatchSize > 0) return Math.Min(_options.BatchSize, queued);

            // Never take more than an even share of what is queued, so that near the end of the
            // input no worker holds a long batch while another idles.
            int share = Math.Max(1, queued / Math.Max(1, _live.Count));
            int take = Math.Min(queued, Math.Min(_sizer.Current, share));

            // In order, a batch's outcomes wait in the reorder window behind every earlier batch:
            // keep all batches in flight within a quarter of the window so it never fills on them.
            if (_window is not null) take = Math.Min(take, Math.Max(1, _reorderWindow / (4 * _options.ThrottleLimit)));
            return take;
        }

        // ------------------------------------------------------------------ worker side

        private void WorkerMain(WorkerSlot<TIn, TOut> slot)
        {
            Worker<TIn, TOut>? worker = null;
            bool begun = false;
            bool beginAttempted = false;
            bool countedBeginning = true;
            try
            {
                worker = _factory(slot.Id) ?? throw new InvalidOperationException(Messages.Format(Messages.WorkerFactoryReturnedNull, slot.Id));
                worker.Id = slot.Id;
                worker.Slot = slot;
                slot.Worker = worker;
                if (slot.Aborted)
                {
                    return;
                }

                bool admitted = EnterBegin(slot);
                try
                {
                    if (slot.Aborted) return;
                    beginAttempted = true;
                    worker.InvokeBegin();
                    begun = true;
                }
                finally
                {
                    if (admitted) _beginGate!.Release();
                }

                var loop = new SlotLoop(this, slot);
                lock (_lock)
                {
                    _workersBeginning--;
                    countedBeginning = false;
                }

                worker.InvokeExecute(loop);
                if (!loop.HasRun && !slot.Aborted && !IsStoppingRacy)
                {
                    FaultCore(new WorkerFaultedException(slot.Id, false, new InvalidOperationException(Messages.Format(Messages.WorkerLoopNotRun, slot.Id))));
                }
            }
            catch (Exception ex)
            {
                if (!slot.Aborted && !IsStoppingRacy)
                {
                    FaultCore(new WorkerFaultedException(slot.Id, !begun, ex));
                }
            }
            finally
            {
                FlushPending(slot, mayWait: false);
                try
                {
                    if (beginAttempted) worker!.InvokeEnd();
                }
                catch (Exception ex)
                {
                    // The end is the cleanup: its failure is reported, never fatal to the run.
                    PublishRecord(slot, new WorkerRecord<TIn>(-1, default!, 0, slot.Id, ex), mayWait: false);
                }

                WorkerExited(slot, countedBeginning);
            }
        }

        private bool IsStoppingRacy => Volatile.Read(ref _stopping);

        /// <summary>Waits for a begin slot (see <see cref="EngineOptions.BeginConcurrency"/>); gives up if the worker is aborted meanwhile.</summary>
        private bool EnterBegin(WorkerSlot<TIn, TOut> slot)
        {
            if (_beginGate is null) return false;
            while (!slot.Aborted && !IsStoppingRacy)
            {
                if (_beginGate.Wait(50)) return true;
            }

            return false;
        }

        private void WorkerExited(WorkerSlot<TIn, TOut> slot, bool stillBeginning)
        {
            List<WorkEntry>? orphans = null;
            lock (slot.Sync)
            {
                slot.Aborted = true;
                if (slot.Local.Count > 0)
                {
                    orphans = new List<WorkEntry>(slot.Local);
                    slot.Local.Clear();
                }
            }

            lock (_lock)
            {
                if (stillBeginning) _workersBeginning--;
                _live.Remove(slot);
                _threads.Remove(slot);
                if (orphans is not null)
                {
                    foreach (var e in orphans) _input.Enqueue(e);
                }

                if (_stopping && orphans is not null)
                {
                    ReportUnstartedLocked(_input);
                }

                // Work may remain that only this worker would have taken (it timed out, say).
                WakeOrSpawnLocked();
                _callerWait.WakeAll(_lock);
            }
        }

        /// <summary>Next item for a worker: from its batch, else a new batch (publishing its buffered outcomes first).</summary>
        private WorkEntry? TakeNext(WorkerSlot<TIn, TOut> slot)
        {
            lock (slot.Sync)
            {
                if (slot.Aborted) return null;
                if (slot.Local.Count > 0) return StartLocked(slot, slot.Local.Dequeue());
            }

            Monitor.Enter(_lock);
            try
            {
                while (true)
                {
                    if (!AppendPendingLocked(slot, mayWait: true)) continue;
                    if (_stopping) return null;
                    if (_input.Count > 0)
                    {
                        int n = TakeCountLocked();
                        WorkEntry first = _input.Dequeue();
                        lock (slot.Sync)
                        {
                            if (slot.Aborted)
                            {
                                // Timed out between the checks: the batch stays in the queue.
                                var back = new List<WorkEntry>(_input.Count + 1) { first };
                                back.AddRange(_input);
                                _input.Clear();
                                foreach (var e in back) _input.Enqueue(e);
                                return null;
                            }

                            for (int i = 1; i < n; i++) slot.Local.Enqueue(_input.Dequeue());
                            _callerWait.WakeOne(_lock);
                            if (_input.Count > 0 && !DeferWakeLocked()) _workerWait.WakeOne(_lock);
                            return StartLocked(slot, first);
                        }
                    }

                    if (_inputCompleted && _delayed.Count == 0) return null;
                    _workerWait.ParkLocked(_lock, Timeout.Infinite);
                }
            }
            finally
            {
                Monitor.Exit(_lock);
            }
        }

        /// <summary>Marks an item running on a slot (slot lock held).</summary>
        private WorkEntry StartLocked(WorkerSlot<TIn, TOut> slot, WorkEntry e)
        {
            e.Attempts++;
            Volatile.Write(ref e.Token, (e.Attempts * 4) + RunningState);
            slot.Current = e;
            slot.CurrentAttempt = e.Attempts;
            slot.CurrentStart = Stopwatch.GetTimestamp();
            return e;
        }

        private static bool TryClaim(WorkEntry e, int attempt) =>
            Interlocked.CompareExchange(ref e.Token, (attempt * 4) + ClaimedState, (attempt * 4) + RunningState) == (attempt * 4) + RunningState;

        private void RunItems(WorkerSlot<TIn, TOut> slot)
        {
            Worker<TIn, TOut> worker = slot.Worker!;
            ItemContext<TOut> context = slot.Context;
            WorkEntry? e = TakeNext(slot);
            while (e is not null)
            {
                int attempt = e.Attempts;
                context.Reset(e.Sequence, attempt);
                long t0 = slot.CurrentStart;
                Exception? error = null;
                try
                {
                    worker.InvokeProcess(e.Input, context);
                }
                catch (Exception ex)
                {
                    error = ex;
                }

                long ticks = Stopwatch.GetTimestamp() - t0;
                error ??= context.FailedWith;
                IReadOnlyList<TOut> outputs = context.TakeOutputs();
                WorkEntry? next = null;
                bool claimed;
                bool flush = false;

                // Finishing this item and starting the next share one acquisition of the slot lock:
                // for small items that lock is most of the engine's per-item cost.
                lock (slot.Sync)
                {
                    slot.Current = null;
                    claimed = TryClaim(e, attempt);
                    if (claimed && error is null)
                    {
                        if (slot.Pending.Count == 0) slot.PendingSince = t0 + ticks;
                        slot.Pending.Add(MakeOutcome(e, ItemStatus.Succeeded, null, outputs, TimeSpan.FromSeconds((double)ticks / Stopwatch.Frequency), slot.Id, context.Attachment));
                        flush = ShouldPublish(slot, slot.Pending.Count, t0 + ticks);
                    }

                    if (!flush && claimed && error is null && !slot.Aborted && slot.Local.Count > 0)
                    {
                        next = StartLocked(slot, slot.Local.Dequeue());
                    }
                }

                if (claimed)
                {
                    _sizer.Observe(ticks);
                    if (error is not null) FailAttempt(slot, e, ItemStatus.Failed, error, TimeSpan.FromSeconds((double)ticks / Stopwatch.Frequency), slot.Id);
                }

                if (flush) FlushPending(slot, mayWait: true);
                if (slot.Aborted) return;
                e = next ?? TakeNext(slot);
            }
        }

        /// <summary>A failed or timed-out attempt: schedule a retry, or report it final (claim held).</summary>
        private void FailAttempt(WorkerSlot<TIn, TOut>? slot, WorkEntry e, ItemStatus status, Exception error, TimeSpan duration, int workerId)
        {
            bool retryable = status == ItemStatus.Failed || _options.RetryTimedOut;
            if (retryable && e.Attempts <= _options.MaxRetries)
            {
                (e.PreviousErrors ??= new List<Exception>()).Add(error);
                e.DueTicks = _clock.ElapsedTicks + (long)(_backoff.Delay(e.Attempts).TotalSeconds * Stopwatch.Frequency);
                bool scheduled = false;
                lock (_lock)
                {
                    if (!_stopping)
                    {
                        _delayed.Add(e);
                        scheduled = true;
                    }
                }

                if (scheduled)
                {
                    Interlocked.Increment(ref _retries);
                    _watchdogWake.Set();
                    return;
                }
            }

            var outcome = MakeOutcome(e, status, error, Array.Empty<TOut>(), duration, workerId);
            if (slot is not null)
            {
                Finish(slot, outcome);
            }
            else
            {
                lock (_lock)
                {
                    AddToOutboxLocked(outcome);
                    _callerWait.WakeOne(_lock);
                }
            }

            if (_options.ErrorPolicy == ErrorPolicy.Stop) StopCore(StopReason.ItemFailed);
        }

        /// <summary>Buffers an outcome on the worker; publishes now if the caller waits or enough piled up.</summary>
        private void Finish(WorkerSlot<TIn, TOut> slot, ItemOutcome<TIn, TOut> outcome)
        {
            int count;
            lock (slot.Sync)
            {
                if (slot.Pending.Count == 0) slot.PendingSince = Stopwatch.GetTimestamp();
                slot.Pending.Add(outcome);
                count = slot.Pending.Count;
            }

            // A failure goes out at once: under ErrorPolicy.Stop it must reach the caller before
            // the not-run outcomes that the stop it causes will publish.
            if (outcome.Status != ItemStatus.Succeeded || ShouldPublish(slot, count, Stopwatch.GetTimestamp()))
            {
                FlushPending(slot, mayWait: true);
            }
        }

        /// <summary>
        /// Whether a worker publishes its buffered outcomes now rather than at its next batch: the
        /// caller is waiting, enough piled up, the oldest has waited a millisecond, or the run stops.
        /// </summary>
        private bool ShouldPublish(WorkerSlot<TIn, TOut> slot, int buffered, long now) =>
            _callerWait.HasSleepers || buffered >= WorkerFlushCount || now - slot.PendingSince >= _flushTicks || IsStoppingRacy;

        private void FlushPending(WorkerSlot<TIn, TOut> slot, bool mayWait)
        {
            Monitor.Enter(_lock);
            try
            {
                while (!AppendPendingLocked(slot, mayWait))
                {
                }
            }
            finally
            {
                Monitor.Exit(_lock);
            }
        }

        /// <summary>
        /// Moves a worker's buffered outcomes to the outbox (lock held). When the outbox is full and
        /// waiting is allowed, waits once for room (releasing the lock) and returns false: the
        /// caller re-checks its state and calls again.
        /// </summary>
        private bool AppendPendingLocked(WorkerSlot<TIn, TOut> slot, bool mayWait)
        {
            Debug.Assert(Monitor.IsEntered(_lock));
            lock (slot.Sync)
            {
                if (slot.Pending.Count == 0) return true;
            }

            if (mayWait && _outbox.Count >= _options.OutcomeCapacity && !_stopping && Volatile.Read(ref _disposed) == 0)
            {
                WaitForRoomLocked();
                return false;
            }

            lock (slot.Sync) MovePendingLocked(slot);
            _callerWait.WakeOne(_lock);
            return true;
        }

        /// <summary>Moves every worker's buffered outcomes to the outbox (lock held).</summary>
        private void CollectPendingLocked()
        {
            foreach (var slot in _threads)
            {
                lock (slot.Sync) MovePendingLocked(slot);
            }
        }

        /// <summary>Moves one worker's buffered outcomes to the outbox (engine lock and slot lock held).</summary>
        private void MovePendingLocked(WorkerSlot<TIn, TOut> slot)
        {
            foreach (object o in slot.Pending) AddToOutboxLocked(o);
            slot.Pending.Clear();
        }

        /// <summary>Adds an outcome or record to the outbox, counting final outcomes (lock held).</summary>
        private void AddToOutboxLocked(object o)
        {
            if (o is ItemOutcome<TIn, TOut> outcome)
            {
                _completed++;
                switch (outcome.Status)
                {
                    case ItemStatus.Succeeded: _succeeded++; break;
                    case ItemStatus.Failed: _failed++; break;
                    case ItemStatus.TimedOut: _failed++; _timedOut++; break;
                    case ItemStatus.Cancelled: _cancelled++; break;
                    case ItemStatus.NotRun: _notRun++; break;
                }
            }

            _outbox.Add(o);
        }

        private void WaitForRoomLocked()
        {
            _callerWait.WakeOne(_lock);
            _roomWait.ParkLocked(_lock, Timeout.Infinite);
        }

        /// <summary>Publishes a side record now, after the worker's buffered outcomes (so order holds).</summary>
        internal void PublishRecord(WorkerSlot<TIn, TOut> slot, WorkerRecord<TIn> record, bool mayWait = true)
        {
            if (Volatile.Read(ref _disposed) != 0) return;
            Monitor.Enter(_lock);
            try
            {
                while (!AppendPendingLocked(slot, mayWait))
                {
                }

                while (mayWait && _outbox.Count >= _options.OutcomeCapacity && !_stopping && Volatile.Read(ref _disposed) == 0)
                {
                    WaitForRoomLocked();
                    while (!AppendPendingLocked(slot, mayWait))
                    {
                    }
                }

                AddToOutboxLocked(record);
                _callerWait.WakeOne(_lock);
            }
            finally
            {
                Monitor.Exit(_lock);
            }
        }

        private ItemOutcome<TIn, TOut> MakeOutcome(WorkEntry e, ItemStatus status, Exception? error, IReadOnlyList<TOut> outputs, TimeSpan duration, int workerId, object? attachment = null)
        {
            IReadOnlyList<Exception> previous = e.PreviousErrors is null ? Array.Empty<Exception>() : e.PreviousErrors.ToArray();
            return new ItemOutcome<TIn, TOut>(e.Sequence, e.Input, outputs, status, error, e.Attempts, duration, workerId, previous, attachment);
        }

        // ------------------------------------------------------------------ stop, fault, watchdog

        private void FaultCore(Exception fault)
        {
            lock (_lock)
            {
                _fault ??= fault;
            }

            StopCore(StopReason.WorkerFaulted);
        }

        private void StopCore(StopReason reason)
        {
            WorkerSlot<TIn, TOut>[] slots;
            lock (_lock)
            {
                if (_stopping) return;
                _stopping = true;
                _stopReason = reason;
                ReportUnstartedLocked(_input);
                foreach (var e in _delayed)
                {
                    // It ran and failed; its retry will not happen.
                    Exception last = e.PreviousErrors![e.PreviousErrors.Count - 1];
                    e.PreviousErrors.RemoveAt(e.PreviousErrors.Count - 1);
                    AddToOutboxLocked(MakeOutcome(e, ItemStatus.Failed, last, Array.Empty<TOut>(), TimeSpan.Zero, 0));
                }

                _delayed.Clear();
                slots = _threads.ToArray();
            }

            var cancelled = new List<object>();
            foreach (var slot in slots)
            {
                WorkEntry? current;
                int attempt;
                lock (slot.Sync)
                {
                    slot.Aborted = true;
                    slot.AbortRequested = true;
                    current = slot.Current;
                    attempt = slot.CurrentAttempt;
                    foreach (var e in slot.Local) cancelled.Add(e);
                    slot.Local.Clear();
                }

                if (current is not null && TryClaim(current, attempt))
                {
                    cancelled.Add(MakeOutcome(current, ItemStatus.Cancelled, new OperationCanceledException(Messages.ItemCancelled), Array.Empty<TOut>(), TimeSpan.Zero, slot.Id));
                    AbortWorker(slot);
                }
            }

            lock (_lock)
            {
                foreach (object o in cancelled)
                {
                    AddToOutboxLocked(o is WorkEntry e ? MakeOutcome(e, ItemStatus.NotRun, null, Array.Empty<TOut>(), TimeSpan.Zero, 0) : o);
                }

                _workerWait.WakeAll(_lock);
                _roomWait.WakeAll(_lock);
                _callerWait.WakeAll(_lock);
            }

            _watchdogWake.Set();
        }

        /// <summary>Reports every queued entry as not run (stopping; lock held).</summary>
        private void ReportUnstartedLocked(Queue<WorkEntry> queue)
        {
            while (queue.Count > 0)
            {
                AddToOutboxLocked(MakeOutcome(queue.Dequeue(), ItemStatus.NotRun, null, Array.Empty<TOut>(), TimeSpan.Zero, 0));
            }
        }

        private static void AbortWorker(WorkerSlot<TIn, TOut> slot)
        {
            slot.AbortRequested = true;
            try
            {
                slot.AbortSource.Cancel();
            }
            catch (AggregateException)
            {
                // A callback registered by the worker threw; the abort below still happens.
            }

            try
            {
                slot.Worker?.Abort();
            }
            catch (Exception)
            {
                // Swallowed only because the worker is being discarded.
            }
        }

        private void WatchdogMain()
        {
            long timeoutTicks = _options.ItemTimeout is TimeSpan t ? (long)(t.TotalSeconds * Stopwatch.Frequency) : 0;
            int pollMs = _options.ItemTimeout is TimeSpan tt ? (int)Math.Max(5, Math.Min(50, tt.TotalMilliseconds / 10)) : 50;
            var slots = new List<WorkerSlot<TIn, TOut>>();
            while (Volatile.Read(ref _disposed) == 0)
            {
                _watchdogWake.Wait(pollMs);
                _watchdogWake.Reset();
                if (timeoutTicks > 0) CheckTimeouts(slots, timeoutTicks);
                ReleaseDueRetries();
                lock (_lock)
                {
                    if (_inputCompleted && _threads.Count == 0 && _delayed.Count == 0 && Volatile.Read(ref _disposed) != 0) return;
                }
            }
        }

        private void CheckTimeouts(List<WorkerSlot<TIn, TOut>> slots, long timeoutTicks)
        {
            slots.Clear();
            lock (_lock) slots.AddRange(_live);
            long now = Stopwatch.GetTimestamp();
            foreach (var slot in slots)
            {
                WorkEntry? current;
                int attempt;
                long start;
                List<WorkEntry>? rest = null;
                lock (slot.Sync)
                {
                    current = slot.Current;
                    attempt = slot.CurrentAttempt;
                    start = slot.CurrentStart;
                    if (current is null || now - start < timeoutTicks || !TryClaim(current, attempt)) continue;

                    // Claimed: the worker is discarded. Its unstarted batch goes back to the queue.
                    slot.Aborted = true;
                    slot.Current = null;
                    if (slot.Local.Count > 0)
                    {
                        rest = new List<WorkEntry>(slot.Local);
                        slot.Local.Clear();
                    }
                }

                lock (_lock)
                {
                    _live.Remove(slot);
                    if (rest is not null)
                    {
                        foreach (var e in rest) _input.Enqueue(e);
                    }

                    if (_stopping) ReportUnstartedLocked(_input);
                    WakeOrSpawnLocked();
                }

                AbortWorker(slot);
                var error = new TimeoutException(Messages.Format(Messages.ItemTimedOut, _options.ItemTimeout));
                FailAttempt(null, current, ItemStatus.TimedOut, error, TimeSpan.FromSeconds((double)(now - start) / Stopwatch.Frequency), slot.Id);
            }
        }

        private void ReleaseDueRetries()
        {
            lock (_lock)
            {
                if (_delayed.Count == 0) return;
                long now = _clock.ElapsedTicks;
                for (int i = _delayed.Count - 1; i >= 0; i--)
                {
                    if (_delayed[i].DueTicks <= now)
                    {
                        _input.Enqueue(_delayed[i]);
                        _delayed.RemoveAt(i);
                    }
                }

                WakeOrSpawnLocked();
                if (_inputCompleted && _delayed.Count == 0) _workerWait.WakeAll(_lock);
            }
        }

        // ------------------------------------------------------------------ nested types

        /// <summary>One submitted item on its way through the engine.</summary>
        internal sealed class WorkEntry
        {
            internal readonly long Sequence;
            internal readonly TIn Input;

            /// <summary>Attempts started.</summary>
            internal int Attempts;

            /// <summary>attempt × 4 + state; the compare-and-swap that decides who reports the attempt.</summary>
            internal int Token;

            /// <summary>When a scheduled retry is due, in engine clock ticks.</summary>
            internal long DueTicks;

            internal List<Exception>? PreviousErrors;

            internal WorkEntry(long sequence, TIn input)
            {
                Sequence = sequence;
                Input = input;
            }
        }

        private sealed class SlotLoop : WorkLoop
        {
            private readonly ParallelEngine<TIn, TOut> _engine;
            private readonly WorkerSlot<TIn, TOut> _slot;

            internal SlotLoop(ParallelEngine<TIn, TOut> engine, WorkerSlot<TIn, TOut> slot)
            {
                _engine = engine;
                _slot = slot;
            }

            private protected override void RunCore() => _engine.RunItems(_slot);
        }
    }

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
        internal ParallelEngine<TIn, TOut>.WorkEntry? Current;
        internal int CurrentAttempt;
        internal long CurrentStart;
        internal long PendingSince;

        /// <summary>Set once the worker must take no more items (timed out, stopped, exiting).</summary>
        internal volatile bool Aborted;

        /// <summary>Set once the worker was interrupted (timeout or stop): shutdown waits for it only so long.</summary>
        internal volatile bool AbortRequested;

        internal WorkerSlot(ParallelEngine<TIn, TOut> core, int id)
        {
            Core = core;
            Id = id;
            Context = new ItemContext<TOut>(this);
        }

        void IRecordPublisher.PublishItemRecord(object record)
        {
            var current = Current;
            var rec = current is null
                ? new WorkerRecord<TIn>(-1, default!, 0, Id, record)
                : new WorkerRecord<TIn>(current.Sequence, current.Input, CurrentAttempt, Id, record);
            Core.PublishRecord(this, rec);
        }
    }
}
