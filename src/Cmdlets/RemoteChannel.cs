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
    /// </summary>
    internal sealed class RemoteChannel : DriverChannel
    {
        private readonly RunspaceConnectionInfo _connection;

        internal RemoteChannel(RunspaceConnectionInfo connection) => _connection = connection;

        internal override bool HasEnded
        {
            get
            {
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
            Runspace.Open();
            SshWriterGuard.Guard(Runspace);
            if (Killed)
            {
                Kill();
                throw new OperationCanceledException();
            }
        }

        internal override string DescribeExit()
        {
            Exception? reason = Runspace?.RunspaceStateInfo.Reason ?? DriverFailure;
            return Strings.Format(RemoteStrings.ConnectionBroke, reason?.Message ?? Runspace?.RunspaceStateInfo.State.ToString() ?? "not open");
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
            if (IsDead)
            {
                Kill();
                return;
            }

            ReleaseClient();
        }
    }
}
