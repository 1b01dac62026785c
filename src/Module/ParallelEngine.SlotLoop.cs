namespace ParallelMap.Engine
{
    // The work loop handed to a worker's Execute.
    public sealed partial class ParallelEngine<TIn, TOut>
    {
        private sealed class SlotLoop : WorkLoop
        {
            private readonly ParallelEngine<TIn, TOut> _engine;
            private readonly WorkerSlot<TIn, TOut> _slot;

            internal SlotLoop(ParallelEngine<TIn, TOut> engine, WorkerSlot<TIn, TOut> slot)
            {
                _engine = engine;
                _slot = slot;
            }

            private protected override void RunCore() => _engine.RunItems(_slot);
        }
    }
}
