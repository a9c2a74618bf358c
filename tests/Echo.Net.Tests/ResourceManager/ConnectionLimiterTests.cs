using System.Net;
using Echo.Net.ResourceManager;

namespace Echo.Net.Tests.ResourceManager;

/// <summary>L-conn-per-address, L-conn-pending-per-address, L-conn-inbound, L-conn-pending: what the limiter lets in.</summary>
public sealed class ConnectionLimiterTests
{
    private static readonly IPAddress Attacker = IPAddress.Parse("10.77.0.2");
    private static readonly IPAddress Honest = IPAddress.Parse("10.77.0.3");

    private static ConnectionLimiter Limiter(int maxInbound = 64, int maxPending = 32, ResourceLimits? limits = null) =>
        new(maxInbound, maxPending, limits ?? new ResourceLimits());

    private static List<InboundSlot> OpenAll(ConnectionLimiter limiter, IPAddress address, int count, bool finishHandshakes)
    {
        List<InboundSlot> slots = [];
        for (int i = 0; i < count; i++)
        {
            InboundSlot? slot = limiter.TryOpen(address, out _);
            Assert.NotNull(slot);
            if (finishHandshakes)
                slot.HandshakeDone();
            slots.Add(slot);
        }
        return slots;
    }

    [Fact]
    public void PerAddress_EightOpen_NinthRefused_AnotherAddressStillLetIn()
    {
        ConnectionLimiter limiter = Limiter();
        OpenAll(limiter, Attacker, 8, finishHandshakes: true);

        Assert.Null(limiter.TryOpen(Attacker, out LimitKind refusal));
        Assert.Equal(LimitKind.ConnectionsPerAddress, refusal);
        Assert.NotNull(limiter.TryOpen(Honest, out _));
        Assert.Equal(9, limiter.Inbound);
    }

    [Fact]
    public void PendingPerAddress_FourInHandshake_FifthRefused_UntilOneFinishes()
    {
        ConnectionLimiter limiter = Limiter();
        List<InboundSlot> pending = OpenAll(limiter, Attacker, 4, finishHandshakes: false);

        Assert.Null(limiter.TryOpen(Attacker, out LimitKind refusal));
        Assert.Equal(LimitKind.PendingHandshakesPerAddress, refusal);
        Assert.NotNull(limiter.TryOpen(Honest, out _));

        pending[0].HandshakeDone();
        Assert.NotNull(limiter.TryOpen(Attacker, out _));
        Assert.Equal(5, limiter.Pending);
    }

    [Fact]
    public void InboundTotal_IsHard_CountedFromAcceptNotFromTheEndOfTheHandshake()
    {
        ConnectionLimiter limiter = Limiter(maxInbound: 3, maxPending: 32, new ResourceLimits { ExemptLoopback = false });
        for (int i = 0; i < 3; i++)
            Assert.NotNull(limiter.TryOpen(IPAddress.Parse($"10.0.0.{i + 1}"), out _));   // none finished its handshake

        Assert.Null(limiter.TryOpen(IPAddress.Parse("10.0.0.9"), out LimitKind refusal));
        Assert.Equal(LimitKind.InboundConnections, refusal);
        Assert.Equal(3, limiter.Inbound);
    }

    [Fact]
    public void PendingTotal_RefusesPastTheLimit_AndFreesWhenAHandshakeEnds()
    {
        ConnectionLimiter limiter = Limiter(maxInbound: 64, maxPending: 2);
        InboundSlot first = limiter.TryOpen(IPAddress.Parse("10.0.0.1"), out _)!;
        Assert.NotNull(limiter.TryOpen(IPAddress.Parse("10.0.0.2"), out _));

        Assert.Null(limiter.TryOpen(IPAddress.Parse("10.0.0.3"), out LimitKind refusal));
        Assert.Equal(LimitKind.PendingHandshakes, refusal);
        first.Release();                                     // its handshake failed
        Assert.NotNull(limiter.TryOpen(IPAddress.Parse("10.0.0.3"), out _));
    }

    [Fact]
    public void Ipv6_OneSlash56IsOneAddress_AnotherSlash56IsNot()
    {
        ConnectionLimiter limiter = Limiter();
        for (int i = 0; i < 8; i++)
        {
            InboundSlot? slot = limiter.TryOpen(IPAddress.Parse($"2001:db8:1:{i:x}::{i + 1}"), out _);   // same /56, different /64s
            Assert.NotNull(slot);
            slot.HandshakeDone();
        }

        Assert.Null(limiter.TryOpen(IPAddress.Parse("2001:db8:1:ff::1"), out LimitKind refusal));
        Assert.Equal(LimitKind.ConnectionsPerAddress, refusal);
        Assert.NotNull(limiter.TryOpen(IPAddress.Parse("2001:db8:1:100::1"), out _));   // the next /56
    }

    [Fact]
    public void Ipv4MappedIpv6_CountsAsItsIpv4Address()
    {
        ConnectionLimiter limiter = Limiter();
        OpenAll(limiter, Attacker, 8, finishHandshakes: true);

        Assert.Null(limiter.TryOpen(Attacker.MapToIPv6(), out LimitKind refusal));
        Assert.Equal(LimitKind.ConnectionsPerAddress, refusal);
    }

    [Fact]
    public void Loopback_ExemptByDefault_CountedWhenTheOptionIsOff()
    {
        ConnectionLimiter exempt = Limiter();
        OpenAll(exempt, IPAddress.Loopback, 20, finishHandshakes: true);
        OpenAll(exempt, IPAddress.IPv6Loopback, 20, finishHandshakes: true);
        Assert.Equal(0, exempt.Addresses);

        ConnectionLimiter counted = Limiter(limits: new ResourceLimits { ExemptLoopback = false });
        OpenAll(counted, IPAddress.Loopback, 8, finishHandshakes: true);
        Assert.Null(counted.TryOpen(IPAddress.Loopback, out LimitKind refusal));
        Assert.Equal(LimitKind.ConnectionsPerAddress, refusal);
        Assert.NotNull(counted.TryOpen(IPAddress.Parse("127.0.0.2"), out _));   // another loopback address is another address
    }

    [Fact]
    public void Release_TwiceOrAfterTheHandshake_CountsOnce_AndForgetsTheAddress()
    {
        ConnectionLimiter limiter = Limiter();
        List<InboundSlot> slots = OpenAll(limiter, Attacker, 8, finishHandshakes: true);
        InboundSlot pending = limiter.TryOpen(Honest, out _)!;

        foreach (InboundSlot slot in slots)
        {
            slot.Release();
            slot.Release();
            slot.HandshakeDone();                            // late, after the release: ignored
        }
        pending.Release();
        pending.Release();

        Assert.Equal(0, limiter.Inbound);
        Assert.Equal(0, limiter.Pending);
        Assert.Equal(0, limiter.Addresses);
        OpenAll(limiter, Attacker, 8, finishHandshakes: true);
    }
}
