using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Threading;
using ParallelMap.Engine;

namespace ParallelMap.Commands
{
    internal sealed partial class RunspaceWorker
    {
        /// <summary>The object the runspace's scripts call into. Public members only because PowerShell calls them.</summary>
        public sealed class Relay
        {
            private readonly RunspaceWorker _worker;

            internal Relay(RunspaceWorker worker) => _worker = worker;

            internal ErrorRecord? Caught { get; set; }

            /// <summary>Runs the item loop inside the driver invocation.</summary>
            /// <param name="loop">The engine's loop.</param>
            /// <param name="pipeFactory">A script block whose steppable pipeline runs the user's script.</param>
            /// <param name="driverContext">The driver script's $ExecutionContext, whose streams the user's pipeline writes to.</param>
            public void Drive(WorkLoop loop, ScriptBlock pipeFactory, EngineIntrinsics driverContext) => _worker.Drive(loop, pipeFactory, driverContext);

            /// <summary>Records the terminating error that ended the current item's code.</summary>
            /// <param name="error">The error.</param>
            public void Fail(ErrorRecord error) => Caught ??= error;
        }
    }
}
