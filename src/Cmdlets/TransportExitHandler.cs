using System;
using System.Diagnostics;
using System.Reflection;

namespace ParallelMap.Commands
{
    /// <summary>
    /// Takes PowerShell's own Exited handlers off a child process, so that <see cref="ProcessChild"/>
    /// can report the exit later, once the child's last answers have been read, and in a way
    /// that breaks the session.
    /// </summary>
    /// <remarks>
    /// PowerShell's out-of-process client (OutOfProcessClientSessionTransportManager.OnExited)
    /// reacts to the exit at once: it calls ReadToEnd on the child's stdout, on a thread of its
    /// own, while the reader thread is still reading the answers the child wrote just before it
    /// died, and then breaks the session. The answers it reads that way are lost (they only end
    /// up in the diagnostic message), so an item that had finished was failed with the crashed
    /// one. Found by the FailFast test of ProcessIsolation.Tests.ps1. Without the handler the
    /// reader thread drains the pipe to its end; the handler, run afterwards, then finds nothing
    /// left to steal.
    /// That handler does not break an established session either (it reports the exit as a
    /// failed connect, which the client's state machine ignores once connected): the driver's
    /// pipeline stayed Running, disposing it waited for ever for a stop the dead child would
    /// never answer, and pwsh itself hung at exit closing that runspace (found as a CI run that
    /// never ended). <see cref="ReportExit"/> reports the exit as a failed receive instead, and
    /// completes the close that starts: the runspace turns Broken and its pipelines fail at once.
    /// </remarks>
    internal static class TransportExitHandler
    {
        private static readonly Assembly Sma = typeof(System.Management.Automation.PowerShell).Assembly;

        /// <summary>The event's backing field: _onExited in .NET, onExited in .NET Framework.</summary>
        private static readonly FieldInfo? ExitedField =
            typeof(Process).GetField("_onExited", BindingFlags.Instance | BindingFlags.NonPublic)
            ?? typeof(Process).GetField("onExited", BindingFlags.Instance | BindingFlags.NonPublic);

        /// <summary>Removes the handlers PowerShell's remoting attached to <paramref name="process"/>'s Exited event, and returns them (null when there are none, or they cannot be reached).</summary>
        internal static EventHandler? Detach(Process process)
        {
            try
            {
                if (ExitedField?.GetValue(process) is not EventHandler handlers) return null;
                EventHandler? taken = null;
                foreach (Delegate d in handlers.GetInvocationList())
                {
                    if (d.Method.DeclaringType?.Namespace?.StartsWith("System.Management.Automation", StringComparison.Ordinal) != true) continue;
                    var handler = (EventHandler)d;
                    process.Exited -= handler;
                    taken += handler;
                }

                return taken;
            }
            catch (Exception)
            {
                // A runtime whose Process is built otherwise: PowerShell's handler stays, with its race.
                return null;
            }
        }

        /// <summary>
        /// Reports the exit of the process behind <paramref name="handlers"/> (taken by
        /// <see cref="Detach"/>): runs every handler but the transport's own (that one would stop
        /// its writer, so the close below would wait a minute for a timer instead of failing at
        /// once on the dead child's pipe), then reports a failed receive to the transport, which
        /// starts closing the session, and completes that close, which nobody is left to answer.
        /// </summary>
        internal static void ReportExit(EventHandler handlers, Process process, string message)
        {
            object? transport = null;
            foreach (Delegate d in handlers.GetInvocationList())
            {
                if (RaiseErrorMethod(d.Target) is not null)
                {
                    transport = d.Target;
                    continue;
                }

                try
                {
                    ((EventHandler)d)(process, EventArgs.Empty);
                }
                catch (Exception)
                {
                    // Being torn down already.
                }
            }

            if (transport is null) return;
            try
            {
                Type methodType = Sma.GetType("System.Management.Automation.Remoting.TransportMethodEnum", throwOnError: true)!;
                object receiveFailed = Enum.Parse(methodType, "ReceiveShellOutputEx");
                object args = Activator.CreateInstance(ErrorArgsType!, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, null, new[] { new System.Management.Automation.Remoting.PSRemotingTransportException(message), receiveFailed }, null)!;
                RaiseErrorMethod(transport)!.Invoke(transport, new[] { args });
                transport.GetType().GetMethod("RaiseCloseCompleted", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, null, Type.EmptyTypes, null)?.Invoke(transport, null);
            }
            catch (Exception)
            {
                // The session is being torn down already, or the runtime is built otherwise.
            }
        }

        private static readonly Type? ErrorArgsType = Sma.GetType("System.Management.Automation.Remoting.TransportErrorOccuredEventArgs");

        /// <summary>The transport's RaiseErrorHandler(TransportErrorOccuredEventArgs), which only a transport manager has.</summary>
        private static MethodInfo? RaiseErrorMethod(object? target) => target is null || ErrorArgsType is null
            ? null
            : target.GetType().GetMethod("RaiseErrorHandler", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, null, new[] { ErrorArgsType }, null);
    }
}
