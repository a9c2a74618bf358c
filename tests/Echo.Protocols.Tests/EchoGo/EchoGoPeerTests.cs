using Echo.Net.Identity;
using Echo.Protocols.EchoGo;

namespace Echo.Protocols.Tests.EchoGo;

public sealed class EchoGoPeerTests
{
    [Fact]
    public void Queue_HoldsTwoHundredFiftySixLines_ForAPeerWithNoStream_TheNextIsDropped()
    {
        using RecordingLoggerFactory logs = new();
        EchoGoPeer peer = new(KeyPair.Generate().PeerId, TimeProvider.System, logs.CreateLogger("test"));
        int Dropped() => logs.Count(e => e.EventId == 3109);

        // No writer runs and no stream is open: nothing leaves the queue.
        for (int i = 0; i < 256; i++)
            peer.Send([(byte)'a', (byte)'\n']);
        Assert.Equal(0, Dropped());

        peer.Send([(byte)'b', (byte)'\n']);
        Assert.Equal(1, Dropped());
    }
}
