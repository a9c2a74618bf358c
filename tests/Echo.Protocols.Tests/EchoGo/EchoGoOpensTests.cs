using Echo.Protocols.EchoGo;

namespace Echo.Protocols.Tests.EchoGo;

public sealed class EchoGoOpensTests
{
    [Fact]
    public void NoOpen_BeforeItIsAllowed()
    {
        EchoGoOpens opens = new();

        Assert.False(opens.TryBegin(openStreams: 0));
        opens.Allow();
        Assert.True(opens.TryBegin(openStreams: 0));
    }

    [Fact]
    public void NoSecondOpen_WhileOneIsUnderWay_OrAStreamIsOpen()
    {
        EchoGoOpens opens = new();
        opens.Allow();
        Assert.True(opens.TryBegin(0));

        Assert.False(opens.TryBegin(0));   // under way
        opens.End();
        Assert.False(opens.TryBegin(1));   // the peer has a stream open
        Assert.True(opens.TryBegin(0));
    }

    [Fact]
    public void AtMostMaxPerConnection_SoAPeerThatKeepsClosingOursIsNotAskedForever()
    {
        EchoGoOpens opens = new();
        opens.Allow();
        for (int i = 0; i < EchoGoOpens.MaxPerConnection; i++)
        {
            Assert.True(opens.TryBegin(0));
            opens.End();
        }

        Assert.False(opens.TryBegin(0));
        Assert.Equal(EchoGoOpens.MaxPerConnection, opens.Opened);
    }
}
