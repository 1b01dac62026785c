using System;

namespace ParallelMap.Bench;

public static class EngineBench
{
    public static void Run(bool quick, Action<string, double, string> report)
    {
    }
}
