using System.Globalization;

namespace ParallelMap.Engine
{
    /// <summary>
    /// Fills in the holes of the engine's messages (Messages.resx, Checkpoint/CheckpointMessages.resx).
    /// In the invariant culture: they name paths, counts and times that a log reader compares.
    /// </summary>
    internal static class EngineText
    {
        internal static string Format(string format, params object?[] args) => string.Format(CultureInfo.InvariantCulture, format, args);
    }
}
