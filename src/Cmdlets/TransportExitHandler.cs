using System;
using System.Diagnostics;
using System.Reflection;

namespace ParallelMap.Commands
{
    /// <summary>
    /// Takes PowerShell's own Exited handler off a child process so that <see cref="ProcessChild"/>
    /// can run it later, once the child's last answers have been read.
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
    /// never ended). <see cref="BreakSession"/> reports the exit as a failed receive instead,
    /// which starts closing the session, and <see cref="CompleteClose"/> ends that close (the
    /// close packet has nobody to answer it): the runspace turns Broken and its pipelines fail
    /// at once.
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
        /// Runs the detached handlers but the transport's own: that one would stop its writer,
        /// so that the close BreakSession causes would wait a minute for a timer instead of
        /// failing at once on the dead child's pipe.
        /// </summary>
        internal static void RaiseExited(EventHandler handlers, Process process)
        {
            foreach (Delegate d in handlers.GetInvocationList())
            {
                if (IsTransport(d)) continue;
                try
                {
                    ((EventHandler)d)(process, EventArgs.Empty);
                }
                catch (Exception)
                {
                    // Being torn down already.
                }
            }
        }

        /// <summary>Completes the close BreakSession began: the close packet it sent has nobody to answer it.</summary>
        internal static bool CompleteClose(EventHandler handlers)
        {
            bool done = false;
            foreach (Delegate d in handlers.GetInvocationList())
            {
                if (!IsTransport(d)) continue;
                try
                {
                    MethodInfo? complete = d.Target!.GetType().GetMethod("RaiseCloseCompleted", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, null, Type.EmptyTypes, null);
                    if (complete is null) continue;
                    complete.Invoke(d.Target, null);
                    done = true;
                }
                catch (Exception)
                {
                    // Closed meanwhile.
                }
            }

            return done;
        }

        private static bool IsTransport(Delegate d) => d.Target?.GetType().GetMethod("RaiseErrorHandler", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic) is not null;

        /// <summary>
        /// Tells the transport behind <paramref name="handlers"/> that its process is gone, as a
        /// failed receive (which closes the session); false when it cannot be reached.
        /// </summary>
        internal static bool BreakSession(EventHandler handlers, string message)
        {
            try
            {
                Type? argsType = Sma.GetType("System.Management.Automation.Remoting.TransportErrorOccuredEventArgs");
                Type? methodType = Sma.GetType("System.Management.Automation.Remoting.TransportMethodEnum");
                if (argsType is null || methodType is null) return false;
                object receiveFailed = Enum.Parse(methodType, "ReceiveShellOutputEx");
                object args = Activator.CreateInstance(argsType, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, null, new[] { new System.Management.Automation.Remoting.PSRemotingTransportException(message), receiveFailed }, null)!;
                bool raised = false;
                foreach (Delegate d in handlers.GetInvocationList())
                {
                    MethodInfo? raise = d.Target?.GetType().GetMethod("RaiseErrorHandler", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, null, new[] { argsType }, null);
                    if (raise is null) continue;
                    raise.Invoke(d.Target, new[] { args });
                    raised = true;
                }

                return raised;
            }
            catch (Exception)
            {
                // The session is being torn down already, or the runtime is built otherwise.
                return false;
            }
        }
    }
}
