using System.Net;
using System.Net.Sockets;
using Echo.Net.Identity;
using Echo.Net.Multiformats;

namespace Echo.Net.Tests.Multiformats;

public class MultiaddrTests
{
    private const string PeerText = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
    private const string PeerHex = "0024080112202ffa35a99d3a3cfbb17bb7c1dc5561b18a8dcca4df38dc613ea859c37eb1336b";
    private const string OtherPeerText = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N";
    private const string OtherPeerHex = "12209dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0b9";

    // multihash 12 20 00 01 .. 1f in each supported multibase
    private const string CertHashHex = "1220000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    private const string CertHashBase64Url = "uEiAAAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHw";

    [Theory]                                   // vectors from the multiaddr spec (multiaddr.feature, README, computed)
    [InlineData("/ip4/192.0.2.42/tcp/443", "04c000022a0601bb")]
    [InlineData("/ip4/127.0.0.1/udp/1234", "047f000001910204d2")]
    [InlineData("/ip4/127.0.0.1/tcp/4001/p2p/" + PeerText, "047f000001060fa1a50326" + PeerHex)]
    [InlineData("/dns4/example.com/tcp/443/ws", "360b6578616d706c652e636f6d0601bbdd03")]
    public void Vector_TextAndBinary_ConvertBothWays(string text, string hex)
    {
        Multiaddr fromText = Multiaddr.Parse(text);
        Assert.Equal(hex, Convert.ToHexStringLower(fromText.ToBytes()));
        Multiaddr fromBytes = Multiaddr.FromBytes(Convert.FromHexString(hex));
        Assert.Equal(text, fromBytes.ToString());
        Assert.Equal(fromText, fromBytes);
        Assert.Equal(fromText.GetHashCode(), fromBytes.GetHashCode());
    }

    [Theory]                                   // one row per supported protocol, binary worked out by hand
    [InlineData("/ip6/2001:db8::1/tcp/4001", "2920010db800000000000000000000000106" + "0fa1")]
    [InlineData("/ip6/::/udp/0", "2900000000000000000000000000000000" + "91020000")]
    [InlineData("/ip6/::ffff:1.2.3.4/tcp/1", "2900000000000000000000ffff01020304" + "060001")]
    [InlineData("/ip6zone/eth0/ip6/fe80::1/udp/9", "2a0465746830" + "29fe800000000000000000000000000001" + "91020009")]
    [InlineData("/dns/example.com/tcp/80", "350b6578616d706c652e636f6d060050")]
    [InlineData("/dns6/h/udp/65535", "370168" + "9102ffff")]
    [InlineData("/dnsaddr/bootstrap.libp2p.io", "3813626f6f7473747261702e6c69627032702e696f")]
    [InlineData("/dns4/b\u00fccher.example/tcp/1", "360f62c3bc636865722e6578616d706c65060001")]
    [InlineData("/ip4/1.2.3.4/tcp/1/p2p/" + PeerText + "/p2p-circuit/p2p/" + OtherPeerText,
        "0401020304060001a50326" + PeerHex + "a202a50322" + OtherPeerHex)]
    [InlineData("/ip4/1.2.3.4/udp/1/quic-v1", "0401020304" + "91020001" + "cd03")]
    [InlineData("/ip4/1.2.3.4/udp/1/quic", "0401020304" + "91020001" + "cc03")]
    [InlineData("/ip4/1.2.3.4/tcp/1/wss", "0401020304060001de03")]
    [InlineData("/ip4/1.2.3.4/tcp/443/tls/sni/example.com/ws", "040102030406" + "01bb" + "c003" + "c1030b6578616d706c652e636f6d" + "dd03")]
    [InlineData("/ip4/1.2.3.4/tcp/1/noise", "0401020304060001c603")]
    [InlineData("/ip4/1.2.3.4/tcp/80/http", "0401020304060050e003")]
    [InlineData("/ip4/1.2.3.4/udp/1/quic-v1/webtransport/certhash/" + CertHashBase64Url,
        "0401020304" + "91020001" + "cd03" + "d103" + "d20322" + CertHashHex)]
    [InlineData("/ip4/1.2.3.4/udp/1/webrtc-direct/certhash/" + CertHashBase64Url,
        "0401020304" + "91020001" + "9802" + "d20322" + CertHashHex)]
    [InlineData("/p2p/" + PeerText + "/p2p-circuit/webrtc", "a50326" + PeerHex + "a202" + "9902")]
    [InlineData("/unix/tmp/echo.sock", "90030e2f746d702f6563686f2e736f636b")]
    [InlineData("/ip4/1.2.3.4/tcp/1/unix/a//b/ c/", "0401020304060001" + "9003092f612f2f622f20632f")]
    public void Protocol_RoundTrip_TextBytesText(string text, string hex)
    {
        Multiaddr parsed = Multiaddr.Parse(text);
        Assert.Equal(hex, Convert.ToHexStringLower(parsed.ToBytes()));
        Multiaddr decoded = Multiaddr.FromBytes(parsed.ToBytes());
        Assert.Equal(text, decoded.ToString());
        Assert.Equal(text, parsed.ToString());
        Assert.Equal(parsed, decoded);
    }

    [Fact]
    public void Parse_LongName_UsesTwoByteLengthPrefix()
    {
        string name = new('a', 200);
        Multiaddr address = Multiaddr.Parse("/dns4/" + name);
        Assert.Equal("36c801" + Convert.ToHexStringLower(System.Text.Encoding.ASCII.GetBytes(name)),
            Convert.ToHexStringLower(address.ToBytes()));
        Assert.Equal(address, Multiaddr.FromBytes(address.ToBytes()));
    }

    [Theory]
    [InlineData("/ipfs/" + PeerText, "/p2p/" + PeerText)]                          // old name, same code
    [InlineData("/p2p/bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6",
        "/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq")]               // CIDv1 peer id
    [InlineData("/ip6/2001:DB8:0:0:0:0:0:1/tcp/1", "/ip6/2001:db8::1/tcp/1")]      // RFC 5952 on output
    [InlineData("/ip6/0:0:0:0:0:0:0:1", "/ip6/::1")]
    [InlineData("/ip4/1.2.3.4/tcp/80/", "/ip4/1.2.3.4/tcp/80")]                   // trailing '/' dropped
    [InlineData("/ws/", "/ws")]
    [InlineData("/certhash/b" + "ciqaaaicamcakbqhbaequcymbuha6earcijrifiwc4mbsgq3dqor4hy", "/certhash/" + CertHashBase64Url)]
    [InlineData("/certhash/zQmNLfbof5rLekrACjeuLk9JmGZD2HDBHCU4z16iYKmx5SE", "/certhash/" + CertHashBase64Url)]
    [InlineData("/certhash/f" + CertHashHex, "/certhash/" + CertHashBase64Url)]
    public void Parse_EquivalentText_PrintsCanonicalForm(string text, string canonical)
    {
        Multiaddr parsed = Multiaddr.Parse(text);
        Assert.Equal(canonical, parsed.ToString());
        Assert.Equal(Multiaddr.Parse(canonical), parsed);
    }

    [Theory]
    [InlineData("/ip4/1.2.3.999/tcp/80", "ip4", 5, "bad ip4 value \"1.2.3.999\"")]
    [InlineData("/ip4/1.2.3/tcp/80", "ip4", 5, "bad ip4 value")]
    [InlineData("/ip4/1.2.3.4.5", "ip4", 5, "bad ip4 value")]
    [InlineData("/ip4/01.2.3.4", "ip4", 5, "bad ip4 value")]
    [InlineData("/ip4/ 1.2.3.4", "ip4", 5, "bad ip4 value")]
    [InlineData("/ip4/1.2.3.4x", "ip4", 5, "bad ip4 value")]
    [InlineData("/ip4/1.2.3.4/tcpp/80", "tcpp", 13, "unknown protocol \"tcpp\"")]
    [InlineData("/ip4/1.2.3.4/tcp/65536", "tcp", 17, "bad tcp value \"65536\"")]
    [InlineData("/ip4/1.2.3.4/tcp/-1", "tcp", 17, "bad tcp value")]
    [InlineData("/ip4/1.2.3.4/tcp/0x50", "tcp", 17, "bad tcp value")]
    [InlineData("/ip4/1.2.3.4/tcp/080", "tcp", 17, "bad tcp value")]
    [InlineData("/ip4/1.2.3.4/udp/+80", "udp", 17, "bad udp value")]
    [InlineData("/ip4/1.2.3.4/tcp", "tcp", 16, "missing tcp value")]
    [InlineData("/ip4/1.2.3.4/tcp/", "tcp", 17, "missing tcp value")]
    [InlineData("/ip4", "ip4", 4, "missing ip4 value")]
    [InlineData("/ip4//1.2.3.4", "ip4", 5, "missing ip4 value")]
    [InlineData("/ws//tcp/1", null, 4, "empty component")]
    [InlineData("ip4/1.2.3.4", null, 0, "must start with '/'")]
    [InlineData("", null, 0, "empty multiaddr")]
    [InlineData("/", null, 0, "empty multiaddr")]
    [InlineData("/ip6/[::1]", "ip6", 5, "bad ip6 value")]
    [InlineData("/ip6/::1%eth0", "ip6", 5, "bad ip6 value")]
    [InlineData("/ip6/1.2.3.4", "ip6", 5, "bad ip6 value")]
    [InlineData("/dns4/a b", "dns4", 6, "contains whitespace")]
    [InlineData("/dns4/a\u001b[31m", "dns4", 6, "U+001B")]
    [InlineData("/dns/evil\u202Emoc", "dns", 5, "U+202E")]
    [InlineData("/p2p/12D3KooWnotreal", "p2p", 5, "bad p2p value")]
    [InlineData("/p2p/12D3Koo\u00fcW", "p2p", 5, "neither base58 nor CIDv1")]         // non-ASCII never reaches the base58 decoder
    [InlineData("/certhash/z\u00fcz", "certhash", 10, "bad certhash value")]
    [InlineData("/ip4/1.2.3.4/tcp/1/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5", "p2p", 23, "bad p2p value")]
    [InlineData("/certhash/xyz", "certhash", 10, "bad certhash value")]
    [InlineData("/certhash/uEiAAAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHx", "certhash", 10, "bad certhash value")] // non-canonical last char
    [InlineData("/certhash/uEiAA", "certhash", 10, "multihash announces 32 digest bytes")]
    [InlineData("/unix/", "unix", 6, "missing unix value")]
    [InlineData("/p2p-circuit/tcp", "tcp", 16, "missing tcp value")]
    public void Parse_BadText_ErrorNamesComponentAndPosition(string text, string? component, int position, string reason)
    {
        MultiaddrFormatException e = Assert.Throws<MultiaddrFormatException>(() => Multiaddr.Parse(text));
        Assert.Equal(component, e.Component);
        Assert.Equal(position, e.Position);
        Assert.Equal("multiaddr", e.ProtocolId);
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        Assert.Contains($"at character {position}", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', e.Message);
        Assert.DoesNotContain('\u202E', e.Message);

        Assert.False(Multiaddr.TryParse(text, out Multiaddr? result, out string? error));
        Assert.Null(result);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_BadIp4_MessageQuotesAddressValueAndPosition()
    {
        MultiaddrFormatException e = Assert.Throws<MultiaddrFormatException>(() => Multiaddr.Parse("/ip4/1.2.3.999/tcp/80"));
        Assert.StartsWith("multiaddr: invalid multiaddr \"/ip4/1.2.3.999/tcp/80\": bad ip4 value \"1.2.3.999\"", e.Message);
        Assert.EndsWith("at character 5", e.Message);
    }

    [Theory]
    [InlineData("04c00002", "ip4", 1, "truncated ip4 value: 4 bytes needed, 3 left")]
    [InlineData("04c000022a0601", "tcp", 6, "truncated tcp value")]
    [InlineData("04c000022aff03", "0x1ff", 5, "unknown protocol code 0x1ff")]
    [InlineData("04c000022a80", null, 5, "truncated protocol code")]
    [InlineData("8400", null, 0, "not minimally encoded")]                          // 4 written in two bytes
    [InlineData("a503", "p2p", 2, "truncated p2p value length")]
    [InlineData("a503ff01", "p2p", 2, "p2p value of 255 bytes exceeds the 44-byte limit")]
    [InlineData("a503ffffffffffffffff7f", "p2p", 2, "exceeds the 44-byte limit")]  // 2^63-1 announced: nothing allocated
    [InlineData("a503050001020304", "p2p", 3, "bad p2p value")]
    [InlineData("a50326" + "0025080112202ffa35a99d3a3cfbb17bb7c1dc5561b18a8dcca4df38dc613ea859c37eb1336b", "p2p", 3, "bad p2p value")]
    [InlineData("3600", "dns4", 1, "empty dns4 value")]
    [InlineData("360561", "dns4", 2, "truncated dns4 value: 5 bytes needed, 1 left")]
    [InlineData("36012f", "dns4", 2, "contains '/'")]
    [InlineData("3602c328", "dns4", 2, "not valid UTF-8")]
    [InlineData("36fe01", "dns4", 1, "dns4 value of 254 bytes exceeds the 253-byte limit")]
    [InlineData("90030161", "unix", 3, "must be absolute")]
    [InlineData("9003012f", "unix", 3, "must be absolute")]
    [InlineData("d2030112", "certhash", 3, "truncated multihash length")]
    [InlineData("d203031201ff", "certhash", 3, null)]
    [InlineData("d20303120200", "certhash", 3, "multihash announces 2 digest bytes but carries 1")]
    [InlineData("", null, 0, "empty multiaddr")]
    public void FromBytes_BadBinary_ErrorNamesComponentAndPosition(string hex, string? component, int position, string? reason)
    {
        byte[] bytes = Convert.FromHexString(hex);
        if (reason is null)
        {
            Multiaddr ok = Multiaddr.FromBytes(bytes);
            Assert.Equal(bytes, ok.ToBytes());
            return;
        }
        MultiaddrFormatException e = Assert.Throws<MultiaddrFormatException>(() => Multiaddr.FromBytes(bytes));
        Assert.Equal(component, e.Component);
        Assert.Equal(position, e.Position);
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        Assert.EndsWith($"at byte {position}", e.Message);
        Assert.False(Multiaddr.TryFromBytes(bytes, out Multiaddr? result, out string? error));
        Assert.Null(result);
        Assert.Equal(e.Message, "multiaddr: " + error);
    }

    [Fact]
    public void Limits_AtTheLimitAccepted_OneMoreRefused()
    {
        string ws32 = string.Concat(Enumerable.Repeat("/ws", Multiaddr.MaxComponents));
        Assert.Equal(32, Multiaddr.Parse(ws32).Components.Count);
        MultiaddrFormatException text = Assert.Throws<MultiaddrFormatException>(() => Multiaddr.Parse(ws32 + "/ws"));
        Assert.Equal(("ws", 97), (text.Component, text.Position));

        byte[] binary = Convert.FromHexString(string.Concat(Enumerable.Repeat("dd03", Multiaddr.MaxComponents + 1)));
        MultiaddrFormatException bin = Assert.Throws<MultiaddrFormatException>(() => Multiaddr.FromBytes(binary));
        Assert.Equal(64, bin.Position);
        Assert.Equal(32, Multiaddr.FromBytes(binary.AsSpan(0, 64)).Components.Count);

        Assert.Throws<MultiaddrFormatException>(() => Multiaddr.FromBytes(new byte[Multiaddr.MaxByteLength + 1]));
        MultiaddrFormatException longText = Assert.Throws<MultiaddrFormatException>(() => Multiaddr.Parse("/dns4/" + new string('a', 1100)));
        Assert.Equal(Multiaddr.MaxTextLength, longText.Position);
        MultiaddrFormatException longName = Assert.Throws<MultiaddrFormatException>(() => Multiaddr.Parse("/dns4/" + new string('a', 254)));
        Assert.Equal(("dns4", 6), (longName.Component, longName.Position));
        Assert.Equal(253, Multiaddr.Parse("/dns4/" + new string('a', 253)).Components[0].Value!.Length);
    }

    [Fact]
    public void FromBytes_BinaryWhoseTextExceedsLimit_Refused()
    {
        // 31 ip6 components print as 31 * 44 = 1364 characters from only 527 bytes.
        byte[] ip6 = Convert.FromHexString("29" + new string('f', 32));
        byte[] bytes = [.. Enumerable.Repeat(ip6, 31).SelectMany(b => b)];
        MultiaddrFormatException e = Assert.Throws<MultiaddrFormatException>(() => Multiaddr.FromBytes(bytes));
        Assert.Contains("printed form longer than 1024 characters", e.Message, StringComparison.Ordinal);
        Assert.Equal(23 * 17, e.Position);                                         // the 24th component crosses 1024
    }

    [Fact]
    public void Components_ExposeProtocolAndValue()
    {
        Multiaddr address = Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001/ws/p2p/" + PeerText);
        Assert.Equal(["ip4", "tcp", "ws", "p2p"], address.Components.Select(c => c.Protocol.Name));
        Assert.Equal(["127.0.0.1", "4001", null, PeerText], address.Components.Select(c => c.ValueText));
        Assert.Equal("/tcp/4001", address.Components[1].ToString());
        Assert.Equal(new MultiaddrComponent(MultiaddrProtocol.Tcp, [0x0f, 0xa1]), address.Components[1]);
        Assert.Equal(MultiaddrProtocol.VariableSize, MultiaddrProtocol.P2p.Size);
        Assert.True(MultiaddrProtocol.TryGetByName("ipfs", out MultiaddrProtocol? ipfs));
        Assert.Same(MultiaddrProtocol.P2p, ipfs);
        Assert.True(MultiaddrProtocol.TryGetByCode(0x01dd, out MultiaddrProtocol? ws));
        Assert.Same(MultiaddrProtocol.Ws, ws);
        Assert.True(MultiaddrProtocol.Unix.IsPath);
        Assert.False(MultiaddrProtocol.TryGetByName("tcpp", out _));
    }

    [Fact]
    public void EncapsulateDecapsulate_FollowTheAddressingSpec()
    {
        Multiaddr ip = Multiaddr.Parse("/ip4/7.7.7.7");
        Multiaddr full = ip.Encapsulate(Multiaddr.Parse("/tcp/1234/ws"));
        Assert.Equal("/ip4/7.7.7.7/tcp/1234/ws", full.ToString());
        Assert.Equal("/ip4/7.7.7.7/tcp/1234", full.Decapsulate("ws").ToString());
        Assert.Equal("/ip4/7.7.7.7", full.Decapsulate("tcp").ToString());
        Assert.Equal("/ip4/7.7.7.7", full.Decapsulate(Multiaddr.Parse("/tcp/1234")).ToString());
        Assert.Equal("/ip4/7.7.7.7", full.Decapsulate(Multiaddr.Parse("/tcp/1234/ws")).ToString());
        Assert.Same(full, full.Decapsulate(Multiaddr.Parse("/tcp/9")));
        Assert.Same(full, full.Decapsulate("udp"));
        Assert.True(full.Decapsulate("ip4").IsEmpty);
        Assert.Equal("/", full.Decapsulate("ip4").ToString());
        Assert.Empty(Multiaddr.Empty.ToBytes());
        Assert.Equal(full, Multiaddr.Empty.Encapsulate(full));
        Assert.Throws<ArgumentException>(() => full.Decapsulate("nope"));

        Multiaddr twice = Multiaddr.Parse("/ip4/1.1.1.1/tcp/1/p2p/" + PeerText + "/p2p-circuit/ip4/2.2.2.2/tcp/2");
        Assert.Equal("/ip4/1.1.1.1/tcp/1/p2p/" + PeerText + "/p2p-circuit/ip4/2.2.2.2", twice.Decapsulate("tcp").ToString());
        Assert.Equal("/ip4/1.1.1.1/tcp/1", twice.Decapsulate("ipfs").ToString());      // alias finds p2p
    }

    [Fact]
    public void Encapsulate_BeyondLimits_Throws()
    {
        Multiaddr ws20 = Multiaddr.Parse(string.Concat(Enumerable.Repeat("/ws", 20)));
        Assert.Throws<MultiaddrFormatException>(() => ws20.Encapsulate(ws20));
        Multiaddr ws32 = Multiaddr.Parse(string.Concat(Enumerable.Repeat("/ws", 32)));
        Assert.Throws<MultiaddrFormatException>(() => ws32.WithPeerId(PeerId.Parse(PeerText)));
    }

    [Fact]
    public void PeerId_TrailingP2p_AddedRemovedReplaced()
    {
        PeerId peer = PeerId.Parse(PeerText);
        PeerId other = PeerId.Parse(OtherPeerText);
        Multiaddr transport = Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001");
        Assert.Null(transport.PeerId);
        Assert.Same(transport, transport.WithoutPeerId());

        Multiaddr withPeer = transport.WithPeerId(peer);
        Assert.Equal("/ip4/127.0.0.1/tcp/4001/p2p/" + PeerText, withPeer.ToString());
        Assert.Equal(peer, withPeer.PeerId);
        Assert.Same(withPeer, withPeer.WithPeerId(peer));
        Assert.Equal(transport, withPeer.WithoutPeerId());
        Assert.Equal("/ip4/127.0.0.1/tcp/4001/p2p/" + OtherPeerText, withPeer.WithPeerId(other).ToString());

        Multiaddr relayed = Multiaddr.Parse($"/ip4/1.2.3.4/tcp/1/p2p/{PeerText}/p2p-circuit/p2p/{OtherPeerText}");
        Assert.Equal(other, relayed.PeerId);
        Multiaddr viaRelay = relayed.WithoutPeerId();
        Assert.Equal($"/ip4/1.2.3.4/tcp/1/p2p/{PeerText}/p2p-circuit", viaRelay.ToString());
        Assert.Null(viaRelay.PeerId);                                   // the relay's id is not this address' peer
        Assert.Equal(relayed, viaRelay.WithPeerId(other));

        Assert.True(Multiaddr.Parse("/p2p/" + PeerText).WithoutPeerId().IsEmpty);
    }

    [Theory]
    [InlineData("/ip4/192.0.2.1/tcp/4001", "192.0.2.1", 4001)]
    [InlineData("/ip4/192.0.2.1/tcp/0/p2p/" + PeerText, "192.0.2.1", 0)]
    [InlineData("/ip6/::1/tcp/65535", "::1", 65535)]
    [InlineData("/ip6zone/3/ip6/fe80::1/tcp/80", "fe80::1%3", 80)]
    public void TryGetTcpEndPoint_TcpAddress_ReturnsEndPoint(string text, string ip, int port)
    {
        Assert.True(Multiaddr.Parse(text).TryGetTcpEndPoint(out IPEndPoint? endPoint));
        Assert.Equal(new IPEndPoint(IPAddress.Parse(ip), port), endPoint);
        Assert.Equal(Multiaddr.Parse(text).WithoutPeerId(), Multiaddr.FromTcpEndPoint(endPoint!));
    }

    [Theory]
    [InlineData("/ip4/192.0.2.1/udp/4001")]
    [InlineData("/ip4/192.0.2.1/tcp/1/ws")]
    [InlineData("/ip4/192.0.2.1")]
    [InlineData("/dns4/example.com/tcp/1")]
    [InlineData("/ip4/192.0.2.1/tcp/1/p2p/" + PeerText + "/p2p-circuit")]
    [InlineData("/ip6zone/eth0/ip6/fe80::1/tcp/80")]                    // named zones are not resolved
    [InlineData("/ip4/192.0.2.1/tcp/1/tcp/2")]
    public void TryGetTcpEndPoint_OtherAddress_ReturnsFalse(string text)
    {
        Assert.False(Multiaddr.Parse(text).TryGetTcpEndPoint(out IPEndPoint? endPoint));
        Assert.Null(endPoint);
    }

    [Theory]
    [InlineData("/dns/example.com/tcp/443", AddressFamily.Unspecified)]
    [InlineData("/dns4/example.com/tcp/443/p2p/" + PeerText, AddressFamily.InterNetwork)]
    [InlineData("/dns6/example.com/tcp/443", AddressFamily.InterNetworkV6)]
    public void TryGetDnsTcp_DnsTcpAddress_ReturnsHostPortFamily(string text, AddressFamily expected)
    {
        Assert.True(Multiaddr.Parse(text).TryGetDnsTcp(out string? host, out int port, out AddressFamily family));
        Assert.Equal(("example.com", 443, expected), (host, port, family));
    }

    [Theory]
    [InlineData("/dnsaddr/example.com")]
    [InlineData("/dns4/example.com/udp/443")]
    [InlineData("/dns4/example.com/tcp/443/ws")]
    [InlineData("/ip4/1.2.3.4/tcp/443")]
    public void TryGetDnsTcp_OtherAddress_ReturnsFalse(string text) =>
        Assert.False(Multiaddr.Parse(text).TryGetDnsTcp(out _, out _, out _));

    [Fact]
    public void FromTcpEndPoint_MappedIPv4_PrintsAsIp4()
    {
        IPEndPoint mapped = new(IPAddress.Parse("::ffff:10.0.0.7"), 4001);
        Assert.Equal("/ip4/10.0.0.7/tcp/4001", Multiaddr.FromTcpEndPoint(mapped).ToString());
        Assert.Equal("/ip6/2001:db8::7/tcp/1", Multiaddr.FromTcpEndPoint(new IPEndPoint(IPAddress.Parse("2001:db8::7"), 1)).ToString());
        Assert.Equal("/ip6zone/2/ip6/fe80::7/tcp/1", Multiaddr.FromTcpEndPoint(new IPEndPoint(IPAddress.Parse("fe80::7%2"), 1)).ToString());
    }

    [Fact]
    public void Equality_ByBinaryForm()
    {
        Multiaddr a = Multiaddr.Parse("/ip6/2001:DB8::1/ipfs/" + PeerText);
        Multiaddr b = Multiaddr.Parse("/ip6/2001:db8:0::1/p2p/" + PeerText);
        Assert.True(a == b);
        Assert.False(a != b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, Multiaddr.Parse("/ip6/2001:db8::2/p2p/" + PeerText));
        Assert.False(a.Equals(null));
        Assert.Single(new HashSet<Multiaddr> { a, b });
    }
}
