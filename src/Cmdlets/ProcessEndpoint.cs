namespace ParallelMap.Commands
{
    /// <summary>The endpoint of -Isolation Process: every channel is a new child process, and a child that dies fails its item.</summary>
    internal sealed class ProcessEndpoint : ChannelEndpoint
    {
        private readonly string? _workingDirectory;

        internal ProcessEndpoint(string? workingDirectory) => _workingDirectory = workingDirectory;

        internal override DriverChannel NewChannel() => new ProcessChild(_workingDirectory);
    }
}
