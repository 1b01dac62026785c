using System;

namespace ParallelMap.Engine
{
    /// <summary>
    /// The settings of one engine run. Every setter validates at once and throws an
    /// <see cref="ArgumentOutOfRangeException"/> whose parameter name is the option's name, so a bad
    /// call fails before anything starts.
    /// </summary>
    public sealed class EngineOptions
    {
        /// <summary>The default target time of work per batch hand-off for automatic batching.</summary>
        /// <remarks>
        /// A hand-off costs about a microsecond here (one lock acquisition, no serialization), so a
        /// 2 ms batch keeps the hand-off overhead under 0.1 % while a worker never holds back more
        /// than about 2 ms of work that an idle worker could have taken. joblib's 0.2–2 s target
        /// pays for inter-process pickling, which this in-process engine does not have.
        /// </remarks>
        public static readonly TimeSpan DefaultTargetBatchDuration = TimeSpan.FromMilliseconds(2);

        private int _throttleLimit = Environment.ProcessorCount;
        private int _inputCapacity = 1024;
        private int _outcomeCapacity = 1024;
        private int _reorderWindow;
        private int _batchSize;
        private int _maxBatchSize = 4096;
        private TimeSpan _targetBatchDuration = DefaultTargetBatchDuration;
        private TimeSpan? _itemTimeout;
        private int _maxRetries;
        private TimeSpan _retryDelay = TimeSpan.FromMilliseconds(100);
        private TimeSpan _maxRetryDelay = TimeSpan.FromSeconds(30);
        private long? _totalHint;
        private int _workerStackSize;
        private TimeSpan _shutdownTimeout = TimeSpan.FromSeconds(5);
        private TimeSpan _idleCallbackInterval = TimeSpan.FromMilliseconds(200);
        private int _beginConcurrency = Environment.ProcessorCount;

        /// <summary>The most workers alive at once (each on its own thread). Default: the processor count.</summary>
        public int ThrottleLimit { get => _throttleLimit; set => _throttleLimit = AtLeast(value, 1, nameof(ThrottleLimit)); }

        /// <summary>The most submitted items waiting for a worker; <c>Submit</c> blocks (while delivering outcomes) beyond it.</summary>
        public int InputCapacity { get => _inputCapacity; set => _inputCapacity = AtLeast(value, 1, nameof(InputCapacity)); }

        /// <summary>The most outcomes and worker records waiting for the caller; workers block beyond it.</summary>
        public int OutcomeCapacity { get => _outcomeCapacity; set => _outcomeCapacity = AtLeast(value, 1, nameof(OutcomeCapacity)); }

        /// <summary>Deliver outcomes in input order instead of as items finish.</summary>
        public bool Ordered { get; set; }

        /// <summary>
        /// In ordered mode, the most items submitted but not yet delivered. A slow head item makes
        /// <c>Submit</c> wait instead of growing memory. 0 (default) means
        /// max(4096, 16 × <see cref="ThrottleLimit"/>).
        /// </summary>
        public int ReorderWindow { get => _reorderWindow; set => _reorderWindow = AtLeast(value, 0, nameof(ReorderWindow)); }

        /// <summary>Items per hand-off to a worker; 0 (default) sizes batches automatically.</summary>
        public int BatchSize { get => _batchSize; set => _batchSize = AtLeast(value, 0, nameof(BatchSize)); }

        /// <summary>The largest automatic batch.</summary>
        public int MaxBatchSize { get => _maxBatchSize; set => _maxBatchSize = AtLeast(value, 1, nameof(MaxBatchSize)); }

        /// <summary>The amount of work automatic batching aims to hand over at once (see <see cref="DefaultTargetBatchDuration"/>).</summary>
        public TimeSpan TargetBatchDuration { get => _targetBatchDuration; set => _targetBatchDuration = Positive(value, nameof(TargetBatchDuration)); }

        /// <summary>The most time one attempt of one item may run; its worker is then aborted and replaced. Null: no limit.</summary>
        public TimeSpan? ItemTimeout { get => _itemTimeout; set => _itemTimeout = value is null ? null : Positive(value.Value, nameof(ItemTimeout)); }

        /// <summary>How many times a failed item is tried again (so at most 1 + this many attempts).</summary>
        public int MaxRetries { get => _maxRetries; set => _maxRetries = AtLeast(value, 0, nameof(MaxRetries)); }

        /// <summary>Also retry items that timed out.</summary>
        public bool RetryTimedOut { get; set; }

        /// <summary>The delay before the first retry; it doubles each attempt, with ±50 % jitter, up to <see cref="MaxRetryDelay"/>.</summary>
        public TimeSpan RetryDelay { get => _retryDelay; set => _retryDelay = NotNegative(value, nameof(RetryDelay)); }

        /// <summary>The longest delay between two attempts.</summary>
        public TimeSpan MaxRetryDelay { get => _maxRetryDelay; set => _maxRetryDelay = NotNegative(value, nameof(MaxRetryDelay)); }

        /// <summary>What a final failure does to the rest of the run.</summary>
        public ErrorPolicy ErrorPolicy { get; set; }

        /// <summary>The expected number of items, when known before the input ends; gives an ETA early.</summary>
        public long? TotalHint { get => _totalHint; set => _totalHint = value is null ? null : AtLeast(value.Value, 0, nameof(TotalHint)); }

        /// <summary>Stack size of each worker thread in bytes; 0 for the platform default.</summary>
        public int WorkerStackSize { get => _workerStackSize; set => _workerStackSize = AtLeast(value, 0, nameof(WorkerStackSize)); }

        /// <summary>
        /// How long <c>Shutdown</c> and <c>Dispose</c> wait for aborted workers (after a stop or a
        /// timeout) to run their end; one still in its end then is abandoned. A worker still inside
        /// the interrupted call half a second after its abort (a call that ignores the abort) is
        /// abandoned then, whatever this says; its end runs on its own thread when the call returns.
        /// </summary>
        public TimeSpan ShutdownTimeout { get => _shutdownTimeout; set => _shutdownTimeout = NotNegative(value, nameof(ShutdownTimeout)); }

        /// <summary>How often the caller's <c>OnWait</c> callback runs while the caller is blocked in the engine.</summary>
        public TimeSpan IdleCallbackInterval { get => _idleCallbackInterval; set => _idleCallbackInterval = Positive(value, nameof(IdleCallbackInterval)); }

        /// <summary>
        /// The most workers running their begin (initialization) at once; 0 for no limit. Default:
        /// the processor count. Opening 50 runspaces at once on 2 cores makes every one of them
        /// late; opened a few at a time, each starts work as soon as it is ready while the next open.
        /// </summary>
        public int BeginConcurrency { get => _beginConcurrency; set => _beginConcurrency = AtLeast(value, 0, nameof(BeginConcurrency)); }

        /// <summary>A name prefix for worker threads (shown in debuggers and dumps).</summary>
        public string ThreadNamePrefix { get; set; } = "ParallelMap worker";

        /// <summary>Seed for the retry jitter; null for a random seed. Tests set it to be repeatable.</summary>
        public int? RandomSeed { get; set; }

        /// <summary>The reorder window in effect.</summary>
        internal int EffectiveReorderWindow => _reorderWindow > 0 ? _reorderWindow : Math.Max(4096, 16 * _throttleLimit);

        /// <summary>A copy, so that a running engine never sees later changes.</summary>
        public EngineOptions Clone() => (EngineOptions)MemberwiseClone();

        private static int AtLeast(int value, int min, string name)
        {
            if (value < min) throw new ArgumentOutOfRangeException(name, value, EngineText.Format(Messages.OptionAtLeast, name, min));
            return value;
        }

        private static long AtLeast(long value, long min, string name)
        {
            if (value < min) throw new ArgumentOutOfRangeException(name, value, EngineText.Format(Messages.OptionAtLeast, name, min));
            return value;
        }

        private static TimeSpan Positive(TimeSpan value, string name)
        {
            if (value <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(name, value, EngineText.Format(Messages.OptionPositive, name));
            return value;
        }

        private static TimeSpan NotNegative(TimeSpan value, string name)
        {
            if (value < TimeSpan.Zero) throw new ArgumentOutOfRangeException(name, value, EngineText.Format(Messages.OptionNotNegative, name));
            return value;
        }
    }
}
