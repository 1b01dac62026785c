namespace ParallelMap.Commands
{
    /// <summary>An output of a runspace's end block (a script with its own end block), not tied to any item.</summary>
    internal sealed class EndOutput
    {
        internal EndOutput(object? value) => Value = value;

        internal object? Value { get; }
    }
}
