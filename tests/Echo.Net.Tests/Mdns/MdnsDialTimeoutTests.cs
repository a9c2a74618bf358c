using System.Threading.Channels;
using Echo.Net.Identity;
using Echo.Net.Mdns;
using Echo.Net.Multiformats;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Net.Tests.Mdns;

/// <summary>L-mdns-dials: each advertised address gets 5 s (on the dialer's clock) before the next one is tried.</summary>
public sealed class MdnsDialTimeoutTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 10_000)]
    public async Task Each_address_gets_five_seconds_then_the_next_is_tried()
    {
        TimeSpan limit = TimeSpan.FromSeconds(5);
        Assert.Equal(limit, new MdnsOptions().DialTimeout);
        FakeTimeProvider time = new(DateTimeOffset.UtcNow);
        Channel<(Multiaddr Address, CancellationToken Token)> dials = Channel.CreateUnbounded<(Multiaddr, CancellationToken)>();
        TaskCompletionSource never = new(TaskCreationOptions.RunContinuationsAsynchronously);
        Task Dial(Multiaddr address, CancellationToken cancellationToken)
        {
            dials.Writer.TryWrite((address, cancellationToken));
            return never.Task.WaitAsync(cancellationToken);
        }
        PeerId peer = MdnsMessagesTests.NewPeer();
        Multiaddr[] addresses = [Multiaddr.Parse($"/ip4/127.0.0.1/tcp/4001/p2p/{peer}"), Multiaddr.Parse($"/ip4/127.0.0.1/tcp/4002/p2p/{peer}")];
        await using MdnsAutoDialer dialer = new(MdnsMessagesTests.NewPeer(), _ => false, Dial, new MdnsOptions(), NullLogger.Instance, time);

        Assert.True(dialer.Offer(peer, addresses));
        foreach (Multiaddr address in addresses)
        {
            (Multiaddr dialed, CancellationToken token) = await dials.Reader.ReadAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(5), Ct);
            Assert.Equal(address, dialed);
            time.Advance(limit - TimeSpan.FromTicks(1));
            Assert.False(token.IsCancellationRequested, "the dial was given up before 5 s");
            time.Advance(TimeSpan.FromTicks(1));
            Assert.True(token.IsCancellationRequested, "the dial still runs at 5 s");
        }
        await TestHosts.WaitUntilAsync(() => dialer.Pending == 0, "the attempt ended after the last address");
        Assert.False(dials.Reader.TryRead(out _));
    }
}
