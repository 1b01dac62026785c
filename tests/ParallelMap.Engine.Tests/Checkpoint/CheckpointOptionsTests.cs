using System;
using System.Collections.Generic;
using System.Text;
using ParallelMap.Engine.Checkpoint;
using Xunit;

namespace ParallelMap.Engine.Tests.Checkpoint;

public class CheckpointOptionsTests
{
    public static TheoryData<string, Action<CheckpointOptions>> BadOptions => new()
    {
        { nameof(CheckpointOptions.ChunkSize), o => o.ChunkSize = 0 },
        { nameof(CheckpointOptions.ChunkSize), o => o.ChunkSize = CheckpointOptions.MaxChunkSize + 1 },
        { nameof(CheckpointOptions.ChunkMaxBytes), o => o.ChunkMaxBytes = 0 },
        { nameof(CheckpointOptions.ChunkMaxAge), o => o.ChunkMaxAge = TimeSpan.Zero },
        { nameof(CheckpointOptions.ChunkMaxAge), o => o.ChunkMaxAge = TimeSpan.FromSeconds(-1) },
        { nameof(CheckpointOptions.Fingerprint), o => o.Fingerprint = null! },
        { nameof(CheckpointOptions.Mode), o => o.Mode = (CheckpointOpenMode)42 },
        { nameof(CheckpointOptions.Metadata), o => o.Metadata = new Dictionary<string, string> { [""] = "x" } },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void Validate_OptionOutOfRange_ThrowsArgumentExceptionNamingIt(string name, Action<CheckpointOptions> spoil)
    {
        var options = new CheckpointOptions();
        spoil(options);
        var e = Assert.ThrowsAny<ArgumentException>(options.Validate);
        Assert.Equal(name, e.ParamName);
    }

    [Fact]
    public void Open_InvalidOptions_ThrowsBeforeTouchingDisk()
    {
        using var t = new TempFolder();
        Assert.ThrowsAny<ArgumentException>(() => CheckpointStore.Open(t.Checkpoint, new CheckpointOptions { ChunkSize = -1 }));
        Assert.False(System.IO.Directory.Exists(t.Checkpoint));
    }

    [Fact]
    public void Validate_Defaults_Pass()
    {
        new CheckpointOptions().Validate();
    }
}

public class Crc32Tests
{
    [Fact]
    public void Compute_CheckString_MatchesTheStandardCheckValue()
    {
        byte[] data = Encoding.ASCII.GetBytes("123456789");
        Assert.Equal(0xCBF43926u, Crc32.Compute(data, 0, data.Length));
    }

    [Fact]
    public void Compute_AnyLengthAndOffset_MatchesBitwiseCrc()
    {
        var rng = new Random(1234);
        var data = new byte[300];
        rng.NextBytes(data);
        for (int offset = 0; offset < 9; offset++)
        {
            for (int count = 0; count < 40; count++)
            {
                Assert.Equal(JournalText.NaiveCrc(data, offset, count), Crc32.Compute(data, offset, count));
            }
        }

        uint split = Crc32.Append(Crc32.Compute(data, 0, 100), data, 100, 200);
        Assert.Equal(Crc32.Compute(data, 0, 300), split);
    }
}
