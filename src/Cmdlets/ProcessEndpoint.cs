namespace ParallelMap.Commands
{
    /// <summary>
    /// The endpoint of -Isolation Process: every channel is a child process, and a child that dies
    /// fails its item. With a pool (New-ParallelPool -Isolation Process), channels are borrowed
    /// from it, already started and set up, and healthy ones go back to it after the call.
    /// </summary>
    internal sealed class ProcessEndpoint : ChannelEndpoint
    {
        private readonly string? _workingDirectory;
        private readonly ChannelPool? _pool;

        internal ProcessEndpoint(string? workingDirectory, ChannelPool? pool = null)
        {
            _workingDirectory = workingDirectory;
            _pool = pool;
        }

        internal override DriverChannel NewChannel() => _pool?.TakeIdle(0) ?? new ProcessChild(_workingDirectory);

        internal override ProcessSetup? PoolSetup => _pool?.Setup;

        internal override bool Keep(DriverChannel channel) => _pool is not null && _pool.Return(0, channel);
    }
}
