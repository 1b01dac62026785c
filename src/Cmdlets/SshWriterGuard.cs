using System;
using System.IO;
using System.Management.Automation.Runspaces;
using System.Reflection;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace ParallelMap.Commands
{
    /// <summary>
    /// Keeps a dying SSH connection from taking the whole PowerShell process with it.
    /// </summary>
    /// <remarks>
    /// PowerShell's SSH client (SSHClientSessionTransportManager) closes a broken connection from
    /// its stderr-reading thread, inside a catch block: CloseConnection disposes the StreamWriter
    /// on the ssh process's stdin, and when a write to it had failed (the host died while we were
    /// sending items), that dispose flushes the data left in the buffer again and throws "Broken
    /// pipe". Nothing catches it there, and pwsh exits with "An error has occurred that was not
    /// properly handled" (found by killing a host mid-run). An idle connection is not safe
    /// either: the transport error makes PowerShell send a close packet, and when that write wins
    /// the race with the close, it fails and leaves its data in the buffer. The guard swaps that transport's field
    /// for a writer whose dispose disposes the real one and swallows the I/O error: writes still
    /// go through the real writer, which the transport handed to its message writer at connect
    /// time; only the close path reads the field.
    /// <para>
    /// The guard must be in place before the connection can break, which includes its set-up:
    /// guarding only once Open had returned left a host dying while a worker was still connecting
    /// (its set-up writes failing, then the close) to end the whole pwsh of a fresh-clone CI run.
    /// So <see cref="Open"/> opens asynchronously and guards as soon as the transport has started
    /// ssh, a millisecond or so in, while the set-up is still waiting for the host.
    /// </para>
    /// </remarks>
    internal static class SshWriterGuard
    {
        /// <summary>How often the opening is looked at until the transport has its writer.</summary>
        private const int LookMs = 1;

        /// <summary>
        /// Opens <paramref name="runspace"/> as <see cref="Runspace.Open"/> does (blocking, throwing
        /// why it failed), guarding its SSH transport's writer from the moment it exists.
        /// </summary>
        internal static void Open(Runspace runspace)
        {
            // Not disposed: a state event raised late on another thread may still set it.
            var settled = new ManualResetEventSlim();
            EventHandler<RunspaceStateEventArgs> onState = (s, e) =>
            {
                if (!IsOpening(e.RunspaceStateInfo.State)) settled.Set();
            };
            runspace.StateChanged += onState;
            try
            {
                runspace.OpenAsync();
                bool looking = true;
                while (IsOpening(runspace.RunspaceStateInfo.State))
                {
                    if (looking) looking = Guard(runspace) == Outcome.NotYet;
                    settled.Wait(looking ? LookMs : Timeout.Infinite);
                }

                if (looking) Guard(runspace);
            }
            finally
            {
                runspace.StateChanged -= onState;
            }

            RunspaceStateInfo info = runspace.RunspaceStateInfo;
            if (info.State == RunspaceState.Opened) return;
            if (info.Reason is not null) ExceptionDispatchInfo.Capture(info.Reason).Throw();
            throw new InvalidRunspaceStateException(UserText.Format(Strings.RunspaceDidNotOpen, info.State));
        }

        /// <summary>Guards the stdin writer of <paramref name="runspace"/>'s SSH transport, if it has one; harmless otherwise.</summary>
        internal static Outcome Guard(Runspace runspace)
        {
            try
            {
                object? transport = SshTransport.Find(runspace);
                FieldInfo? field = transport is null ? null : SshTransport.Field(transport, "_stdInWriter", typeof(StreamWriter));
                if (field is null) return Outcome.NotSsh;
                switch (field.GetValue(transport))
                {
                    case QuietCloseWriter _:
                        return Outcome.Guarded;
                    case StreamWriter real:
                        field.SetValue(transport, new QuietCloseWriter(real));
                        return Outcome.Guarded;
                    default:
                        return Outcome.NotYet;
                }
            }
            catch (Exception)
            {
                // Another PowerShell, built otherwise: no guard, as before.
                return Outcome.NotSsh;
            }
        }

        /// <summary>True for <see cref="Runspace.RunspaceStateInfo"/> states that an open in progress has.</summary>
        private static bool IsOpening(RunspaceState state) => state == RunspaceState.BeforeOpen || state == RunspaceState.Opening;

        /// <summary>What <see cref="Guard"/> found.</summary>
        internal enum Outcome
        {
            /// <summary>The transport's writer is guarded (now or before).</summary>
            Guarded,

            /// <summary>An SSH transport that has not started ssh yet (or has closed it).</summary>
            NotYet,

            /// <summary>No SSH transport (WinRM, or a PowerShell built otherwise): nothing to guard.</summary>
            NotSsh,
        }

        /// <summary>Stands in for the transport's writer on its close path only.</summary>
        private sealed class QuietCloseWriter : StreamWriter
        {
            private readonly StreamWriter _real;

            internal QuietCloseWriter(StreamWriter real)
                : base(Stream.Null)
            {
                _real = real;
            }

            protected override void Dispose(bool disposing)
            {
                try
                {
                    if (disposing) _real.Dispose();
                }
                catch (IOException)
                {
                    // The pipe to a dead ssh process: nothing is left to flush to.
                }
                catch (ObjectDisposedException)
                {
                    // Closed already.
                }

                base.Dispose(disposing);
            }
        }
    }
}
