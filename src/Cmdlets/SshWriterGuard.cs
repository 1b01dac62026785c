using System;
using System.IO;
using System.Management.Automation.Runspaces;
using System.Reflection;

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
    /// properly handled" (found by killing a host mid-run). <see cref="Guard"/> swaps that
    /// transport's field for a writer whose dispose disposes the real one and swallows the I/O
    /// error: writes still go through the real writer, which the transport handed to its message
    /// writer at connect time; only the close path reads the field.
    /// </remarks>
    internal static class SshWriterGuard
    {
        /// <summary>Guards the stdin writer of <paramref name="runspace"/>'s SSH transport, if it has one; harmless otherwise.</summary>
        internal static void Guard(Runspace runspace)
        {
            try
            {
                object? transport = SshTransport.Find(runspace);
                FieldInfo? field = transport is null ? null : SshTransport.Field(transport, "_stdInWriter", typeof(StreamWriter));
                if (field is null) return;
                if (field.GetValue(transport) is StreamWriter real && real is not QuietCloseWriter)
                {
                    field.SetValue(transport, new QuietCloseWriter(real));
                }
            }
            catch (Exception)
            {
                // Another PowerShell, built otherwise: no guard, as before.
            }
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
