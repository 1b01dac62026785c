using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("ParallelMap")]
