using System;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>
    /// An error of the checkpoint store. <see cref="ErrorId"/> is one of
    /// <see cref="CheckpointErrorIds"/> and is what callers should branch on; the message is for people.
    /// </summary>
    public sealed class CheckpointException : Exception
    {
        /// <summary>Creates an error with its stable id and message.</summary>
        /// <param name="errorId">One of <see cref="CheckpointErrorIds"/>.</param>
        /// <param name="message">The message shown to the user.</param>
        /// <param name="path">The folder or file concerned, if any.</param>
        /// <param name="innerException">The error that caused this one, if any.</param>
        public CheckpointException(string errorId, string message, string? path = null, Exception? innerException = null)
            : base(message, innerException)
        {
            ErrorId = errorId ?? throw new ArgumentNullException(nameof(errorId));
            FilePath = path;
        }

        /// <summary>The stable error id, one of <see cref="CheckpointErrorIds"/>.</summary>
        public string ErrorId { get; }

        /// <summary>The checkpoint folder or file the error concerns, if any.</summary>
        public string? FilePath { get; }

        /// <summary>For <see cref="CheckpointErrorIds.CheckpointCorrupt"/>: the byte offset of the damage in <see cref="FilePath"/>, if known.</summary>
        public long? Offset { get; internal set; }

        /// <summary>For <see cref="CheckpointErrorIds.DuplicateKey"/> and <see cref="CheckpointErrorIds.CheckpointCustomChunk"/>: the key concerned.</summary>
        public string? Key { get; internal set; }

        /// <summary>For <see cref="CheckpointErrorIds.CheckpointLocked"/>: the holder of the lock, if its details could be read.</summary>
        public CheckpointLockHolder? Holder { get; internal set; }

        internal static CheckpointException Corrupt(string file, long offset, string message)
            => new CheckpointException(CheckpointErrorIds.CheckpointCorrupt, message, file) { Offset = offset };
    }
}
