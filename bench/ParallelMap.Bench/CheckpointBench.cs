using System;

namespace ParallelMap.Bench;

/// <summary>Checkpoint store figures; filled in with the store (issue 3).</summary>
public static class CheckpointBench
{
    public static void Run(bool quick, Action<string, double, string> report)
    {
    }
}
