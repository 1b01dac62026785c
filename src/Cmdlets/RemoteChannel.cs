using System;
using System.Management.Automation.Runspaces;
using System.Threading.Tasks;

namespace ParallelMap.Commands
{
    /// <summary>
    /// A runspace of its own on a remote host, opened with the connection settings of one of the
    /// user's sessions (<c>New-PSSession -HostName</c> or <c>-ComputerName</c>): one more
    /// connection to that host, so that the user's session itself is never busy with our work.
    /// PowerShell's remote runspace turns Broken when the connection breaks (the remote pwsh
    /// killed, the host gone, sshd stopped); the driver pipeline then fails, which ends the item.
    /// Over SSH the channel also watches the ssh client process itself (<see cref="SshClientWatch"/>),
    /// since PowerShell can miss its end and leave the runspace Opened for ever.
    /// </summary>
    internal sealed class RemoteChannel : DriverChannel
    {
        /// <summary>After the ssh client ended, what it passed on counts as all read once nothing new arrived for this long.</summary>
        private const int QuietMs = 250;

        /// <summary>The longest that wait lasts (a far end that wrote without end).</summary>
        private const int DrainCapMs = 5000;

        private readonly RunspaceConnectionInfo _connection;
        private IDisposable? _sshWatch;
        private int _sshProcessId;

        internal RemoteChannel(RunspaceConnectionInfo connection) => _connection = connection;

        internal override bool HasEnded
        {
            get
            {
                if (IsGone) return true;
                var state = Runspace?.RunspaceStateInfo.State;
                return state == RunspaceState.Broken || (state == RunspaceState.Closed && !Killed);
            }
        }

        internal override void Open()
        {
            // A second attempt after a failed one starts from a new runspace.
            DisposeRunspace();
            Runspace = RunspaceFactory.CreateRunspace(_connection, Host, Types);
            Runspace.StateChanged += (s, e) =>
            {
                if (e.RunspaceStateInfo.State == RunspaceState.Broken) Post(ProcessGone);
            };
            SshWriterGuard.Open(Runspace);
            _sshProcessId = SshTransport.ClientProcessId(Runspace);
            if (_sshProcessId > 0) _sshWatch = SshClientWatch.Watch(_sshProcessId, SshClientEnded);
            if (Killed)
            {
                Kill();
                throw new OperationCanceledException();
            }
        }

        /// <summary>
        /// The ssh client ended: the answers it passed on before may still be on their way through
        /// PowerShell's reader, and the loss must not overtake them (an item that had finished
        /// would run again), so it is posted once the channel has been quiet for a moment.
        /// </summary>
        private void SshClientEnded()
        {
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (QuietForMs < QuietMs && waited.ElapsedMilliseconds < DrainCapMs) System.Threading.Thread.Sleep(50);
            FarEndGone();
        }

        internal override string DescribeExit()
        {
            if (IsGone && Runspace?.RunspaceStateInfo.Reason is null) return UserText.Format(Strings.SshClientEnded, _sshProcessId);
            Exception? reason = Runspace?.RunspaceStateInfo.Reason ?? DriverFailure;
            return UserText.Format(Strings.ConnectionBroke, reason?.Message ?? Runspace?.RunspaceStateInfo.State.ToString() ?? "not open");
        }

        protected override void KillFarEnd()
        {
            // Closing the connection ends the remote pwsh's session, and with it the item it ran;
            // done on a pool thread, since a close may wait for the host's answer.
            Task.Run(() =>
            {
                BeginStopDriver();
                DisposeRunspace();
            });
        }

        internal override void Dispose()
        {
            _sshWatch?.Dispose();
            if (IsDead)
            {
                Kill();
                return;
            }

            ReleaseClient();
        }
    }
}
