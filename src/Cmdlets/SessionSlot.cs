using System;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Threading;

namespace ParallelMap.Commands
{
    /// <summary>
    /// One of the user's sessions as a place for workers: its connection settings, how many
    /// workers it holds, whether it is lost. Shared by the workers of that session; every member
    /// is safe from any thread.
    /// </summary>
    internal sealed class SessionSlot
    {
        /// <summary>New connections opened to one host at once: sshd's MaxStartups (10 by default) drops connections beyond it at random.</summary>
        private const int OpensAtOnce = 4;

        private readonly SemaphoreSlim _opening = new SemaphoreSlim(OpensAtOnce);
        private int _workers;
        private int _brokenStarts;
        private int _lost;

        internal SessionSlot(PSSession session)
        {
            Session = session;
            ComputerName = session.ComputerName;
            Connection = session.Runspace.ConnectionInfo;

            // The user's own connection to the host breaks too when the host dies under the run,
            // and PowerShell's close of it can throw on a thread of its own and end this pwsh
            // (see SshWriterGuard): idle as it is, its close packet alone can fail (seen in a
            // Remote test killing both hosts). Guarding it changes nothing else about it.
            SshWriterGuard.Guard(session.Runspace);
        }

        internal PSSession Session { get; }

        /// <summary>The host's name as the user gave it, shown in PSComputerName, warnings and errors.</summary>
        internal string ComputerName { get; }

        internal RunspaceConnectionInfo Connection { get; }

        /// <summary>Workers assigned to this session now.</summary>
        internal int Workers => Volatile.Read(ref _workers);

        internal bool IsLost => Volatile.Read(ref _lost) != 0;

        /// <summary>Refuses a session that cannot run work (ErrorId SessionNotUsable), before any item runs.</summary>
        internal static SessionSlot Check(PSSession? session)
        {
            if (session is null) throw new CommandErrorException(new ErrorRecord(new ArgumentNullException("Session", Strings.SessionNull), ErrorIds.SessionNotUsableId, ErrorCategory.InvalidArgument, null));
            string? why = null;
            RunspaceState state = session.Runspace.RunspaceStateInfo.State;
            if (state != RunspaceState.Opened) why = UserText.Format(Strings.StateNotOpened, state);
            else if (session.Runspace.ConnectionInfo is null) why = Strings.NoConnectionInfo;
            if (why is not null)
            {
                throw new CommandErrorException(new ErrorRecord(
                    new InvalidOperationException(UserText.Format(Strings.SessionNotUsable, session.Name, session.ComputerName, why)),
                    ErrorIds.SessionNotUsableId,
                    ErrorCategory.InvalidArgument,
                    session));
            }

            return new SessionSlot(session);
        }

        internal void Assign() => Interlocked.Increment(ref _workers);

        internal void Unassign() => Interlocked.Decrement(ref _workers);

        /// <summary>Waits for one of the host's opening places (or the token).</summary>
        internal void EnterOpen(CancellationToken token) => _opening.Wait(token);

        internal void LeaveOpen() => _opening.Release();

        /// <summary>A connection broke during its set-up; returns how many did so in a row.</summary>
        internal int StartBroke() => Interlocked.Increment(ref _brokenStarts);

        /// <summary>A connection finished its set-up: the run of broken ones ends.</summary>
        internal void StartWorked() => Volatile.Write(ref _brokenStarts, 0);

        /// <summary>Marks the host lost; true for the one caller that marked it (it warns).</summary>
        internal bool MarkLost() => Interlocked.Exchange(ref _lost, 1) == 0;
    }
}
