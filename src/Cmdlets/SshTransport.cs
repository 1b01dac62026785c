using System;
using System.Management.Automation.Runspaces;
using System.Reflection;

namespace ParallelMap.Commands
{
    /// <summary>
    /// Reaches the SSH transport behind a remote runspace (PowerShell's internal
    /// SSHClientSessionTransportManager), for the two places that must: <see cref="SshWriterGuard"/>
    /// and the watch on the ssh client process (<see cref="SshClientWatch"/>). Reflection, since
    /// none of it is public; a PowerShell built otherwise, or a WinRM runspace, gives nothing,
    /// and the callers then do without.
    /// </summary>
    internal static class SshTransport
    {
        private const BindingFlags Any = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;

        /// <summary>The transport object of <paramref name="runspace"/>'s connection, or null.</summary>
        internal static object? Find(Runspace runspace)
        {
            try
            {
                object? pool = runspace.GetType().GetProperty("RunspacePool", Any)?.GetValue(runspace, null);
                object? internalPool = pool?.GetType().GetProperty("RemoteRunspacePoolInternal", Any)?.GetValue(pool, null);
                object? handler = internalPool?.GetType().GetProperty("DataStructureHandler", Any)?.GetValue(internalPool, null);
                return handler?.GetType().GetProperty("TransportManager", Any)?.GetValue(handler, null);
            }
            catch (Exception)
            {
                return null;
            }
        }

        /// <summary>A private field of the transport, when it has one of that name and type.</summary>
        internal static FieldInfo? Field(object transport, string name, Type type)
        {
            FieldInfo? field = transport.GetType().GetField(name, Any);
            return field is not null && type.IsAssignableFrom(field.FieldType) ? field : null;
        }

        /// <summary>The process id of the ssh client carrying <paramref name="runspace"/>'s connection, or 0 (not SSH, or not known).</summary>
        internal static int ClientProcessId(Runspace runspace)
        {
            try
            {
                object? transport = Find(runspace);
                if (transport is null) return 0;
                return Field(transport, "_sshProcessId", typeof(int))?.GetValue(transport) is int pid ? pid : 0;
            }
            catch (Exception)
            {
                return 0;
            }
        }
    }
}
