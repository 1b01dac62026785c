using System;
using System.Management.Automation.Runspaces;

namespace ParallelMap.Commands
{
    /// <summary>
    /// The default type and format data, loaded once per process and shared by every runspace of
    /// every run, as a RunspacePool shares them. Loading them is most of the cost of opening a
    /// runspace and of its first formatted output (measured: open plus first command about 5 ms
    /// with shared tables, about 14 ms without); 50 runspaces on 2 cores is the difference between
    /// work starting at once and a quarter second of start-up. The price: a shared TypeTable is
    /// read-only, so Update-TypeData inside a runspace fails (documented in about_ParallelMap).
    /// </summary>
    internal static class SharedTables
    {
        private static readonly Lazy<(TypeTable? Types, FormatTable? Formats)> Tables = new Lazy<(TypeTable?, FormatTable?)>(Load);

        /// <summary>Replaces the template's per-runspace type and format files with the shared tables, if they could be loaded.</summary>
        internal static void Apply(InitialSessionState iss)
        {
            var (types, formats) = Tables.Value;
            if (types is not null)
            {
                iss.Types.Clear();
                iss.Types.Add(new SessionStateTypeEntry(types));
            }

            if (formats is not null)
            {
                iss.Formats.Clear();
                iss.Formats.Add(new SessionStateFormatEntry(formats));
            }
        }

        private static (TypeTable?, FormatTable?) Load()
        {
            TypeTable? types = null;
            FormatTable? formats = null;
            try
            {
                types = TypeTable.LoadDefaultTypeFiles();
            }
            catch (Exception)
            {
                // Each runspace then loads the type files itself, as by default: slower, same result.
            }

            try
            {
                formats = FormatTable.LoadDefaultFormatFiles();
            }
            catch (Exception)
            {
                // Likewise for the format files.
            }

            return (types, formats);
        }
    }
}
