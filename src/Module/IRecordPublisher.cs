namespace ParallelMap.Engine
{
    /// <summary>What an item context needs to publish a side record for the current item.</summary>
    internal interface IRecordPublisher
    {
        void PublishItemRecord(object record);
    }
}
