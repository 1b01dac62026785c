namespace ParallelMap.Engine
{
    /// <summary>What an item context needs from the engine for the current item: publishing side records, and its turn to stream.</summary>
    internal interface IRecordPublisher
    {
        void PublishItemRecord(object record);

        /// <summary>Whether the current item may stream its outputs now (<see cref="ItemContext{TOut}.MayStream"/>).</summary>
        bool MayStream(int held);
    }
}
