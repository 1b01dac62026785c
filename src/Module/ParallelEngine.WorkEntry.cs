using System;
using System.Collections.Generic;

namespace ParallelMap.Engine
{
    // The item record the scheduler passes around.
    public sealed partial class ParallelEngine<TIn, TOut>
    {
        /// <summary>One submitted item on its way through the engine.</summary>
        internal sealed class WorkEntry
        {
            internal readonly long Sequence;
            internal readonly TIn Input;

            /// <summary>Attempts started.</summary>
            internal int Attempts;

            /// <summary>attempt × 4 + state; the compare-and-swap that decides who reports the attempt.</summary>
            internal int Token;

            /// <summary>When a scheduled retry is due, in engine clock ticks.</summary>
            internal long DueTicks;

            internal List<Exception>? PreviousErrors;

            /// <summary>Attempts whose worker was lost under them (<see cref="WorkerLostException"/>): they do not count against the retries.</summary>
            internal int Losses;

            /// <summary>Set when an attempt passed outputs on before it ended: such an item is never retried.</summary>
            internal volatile bool OutputsStreamed;

            /// <summary>The <see cref="Worker{TIn, TOut}.Site"/> its last attempt failed at (0: none): its retry prefers another.</summary>
            internal int AvoidSite;

            /// <summary>Until when (engine clock ticks) workers of <see cref="AvoidSite"/> leave the retry to others.</summary>
            internal long AvoidUntilTicks;

            internal WorkEntry(long sequence, TIn input)
            {
                Sequence = sequence;
                Input = input;
            }
        }
    }
}
