using System.Globalization;

namespace ParallelMap.Engine
{
    /// <summary>Every message the engine's scheduler shows, in one place.</summary>
    internal static class Messages
    {
        internal const string OptionAtLeast = "{0} must be at least {1}.";
        internal const string OptionPositive = "{0} must be a positive time span.";
        internal const string OptionNotNegative = "{0} must not be negative.";
        internal const string WorkerFactoryNull = "A worker factory is required.";
        internal const string WorkerSourceNull = "A worker source is required.";
        internal const string WorkerFactoryReturnedNull = "The worker factory returned null for worker {0}.";
        internal const string WorkerBeginFailed = "Worker {0} failed to start: {1}";
        internal const string WorkerLoopNotRun = "Worker {0} returned from Execute without running its work loop.";
        internal const string WorkerExecuteFailed = "Worker {0} failed outside any item: {1}";
        internal const string InputCompleted = "The input was already completed; no more items can be submitted.";
        internal const string WrongThread = "The engine's caller methods must all be called from the thread that created it.";
        internal const string LoopAlreadyRun = "A work loop runs once.";
        internal const string ItemTimedOut = "The item did not finish within {0}.";
        internal const string ItemCancelled = "The run was stopped while the item was running.";
        internal const string StreamNotAllowed = "Outputs can be streamed only once ItemContext.MayStream returned true for the attempt.";
        internal const string AllWorkersLost = "Every worker place of the run was lost, the last one so: {0}";
        internal const string ItemLostTooOften = "The item's worker was lost {0} times while it ran (the item may be what ends it): {1}";
        internal const string Disposed = "The engine was disposed.";

        internal static string Format(string format, params object?[] args) => string.Format(CultureInfo.InvariantCulture, format, args);
    }
}
