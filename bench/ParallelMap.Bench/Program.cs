using System;
using System.Collections.Generic;
using System.Globalization;

namespace ParallelMap.Bench;

/// <summary>
/// Stopwatch harness for the engine figures. Every figure is a ratio or a count measured in this
/// run, printed as one <c>name: value</c> line, so no figure depends on the speed of the machine.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        bool quick = Array.IndexOf(args, "--quick") >= 0;
        var only = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < args.Length - 1; i++)
        {
            if (args[i] == "--only") only.Add(args[i + 1]);
        }

        void Report(string name, double value, string note)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: {value:0.###}"));
            if (!string.IsNullOrEmpty(note)) Console.Error.WriteLine($"  # {name}: {note}");
        }

        bool Want(string group) => only.Count == 0 || only.Contains(group);

        if (Want("engine")) EngineBench.Run(quick, Report);
        // Checkpoint figures (journal_us_per_item, resume_1m_keys_s) register here.
        if (Want("checkpoint")) CheckpointBench.Run(quick, Report);
        return 0;
    }
}
