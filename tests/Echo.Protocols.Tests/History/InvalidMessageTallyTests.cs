using Echo.Net.Identity;
using Echo.Protocols.History;

namespace Echo.Protocols.Tests.History;

public class InvalidMessageTallyTests
{
    [Fact]
    public void APeer_IsCutOff_WhenItsFailuresReachTheLimit_OthersAreNot()
    {
        InvalidMessageTally tally = new(cutOff: 3);
        PeerId forger = KeyPair.Generate().PeerId, honest = KeyPair.Generate().PeerId;

        Assert.Equal(1, tally.Record(forger));
        Assert.Equal(2, tally.Record(forger));
        Assert.False(tally.IsCutOff(forger));
        Assert.Equal(3, tally.Record(forger));

        Assert.True(tally.IsCutOff(forger));
        Assert.Equal(3, tally.Count(forger));
        Assert.False(tally.IsCutOff(honest));
        Assert.Equal(0, tally.Count(honest));
    }

    [Fact]
    public void FreshIdentities_StayWithinTheBound_AndThePeersCutOffStayCutOff()
    {
        InvalidMessageTally tally = new(cutOff: 2);
        PeerId[] forgers = [.. Enumerable.Range(0, 8).Select(_ => KeyPair.Generate().PeerId)];
        foreach (PeerId forger in forgers)
        {
            tally.Record(forger);
            tally.Record(forger);
        }

        // A flood of fresh identities, one failure each: the table never grows past its bound,
        // and the forgers already cut off are never the ones that make room.
        for (int i = 0; i < InvalidMessageTally.MaxTracked * 2; i++)
        {
            tally.Record(KeyPair.Generate().PeerId);
            Assert.InRange(tally.Tracked, 1, InvalidMessageTally.MaxTracked);
        }

        Assert.All(forgers, f => Assert.True(tally.IsCutOff(f)));
        PeerId late = KeyPair.Generate().PeerId;
        Assert.Equal(1, tally.Record(late));
    }
}
