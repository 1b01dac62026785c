using System;
using System.Management.Automation;

namespace ParallelMap.Commands
{
    /// <summary>A terminating error found while preparing the run; the cmdlet throws its record.</summary>
    internal sealed class CommandErrorException : Exception
    {
        internal CommandErrorException(ErrorRecord record)
            : base(record.Exception.Message, record.Exception) => Record = record;

        internal ErrorRecord Record { get; }
    }
}
