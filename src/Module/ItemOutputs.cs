using System.Collections.Generic;

namespace ParallelMap.Engine
{
    /// <summary>
    /// Outputs of a running item passed on before the item ends (<see cref="ItemContext{TOut}.Stream"/>):
    /// delivered as a side record, so an item that writes a million objects is never held whole.
    /// </summary>
    /// <typeparam name="TOut">The output type.</typeparam>
    public sealed class ItemOutputs<TOut>
    {
        internal ItemOutputs(IReadOnlyList<TOut> values) => Values = values;

        /// <summary>The outputs, in the order the item wrote them.</summary>
        public IReadOnlyList<TOut> Values { get; }
    }
}
