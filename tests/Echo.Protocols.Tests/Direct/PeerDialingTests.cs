using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Echo.Core;
using Echo.Core.Direct;
using Echo.Core.Events;
using Echo.Core.Files;
using Echo.Core.Ports;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Protocols.Peers;
using Echo.Protocols.Rooms;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Protocols.Tests.Direct;

/// <summary>
/// Offers carry their author's addresses, and a peer that is not connected is dialed by id from
/// them, a remembered-address source, or identify; over loopback.
/// </summary>
public sealed class PeerDialingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly string Offerer = KeyPair.Generate().PeerId.ToString();

    private static readonly ChatNetworkOptions Remembering = new() { RememberPeers = new RememberedPeersOptions() };

    [Fact(Timeout = 60_000)]
    public async Task RoomOffer_RelayedByAThirdPeer_CarriesTheAuthorsAddresses_AndTheRecipientDialsAndFetches()
    {
        await using Libp2pChatNetwork alice = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork bob = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork carol = await TestNetworks.StartAsync();
        await bob.ConnectAsync(alice.ListenAddresses[0], Ct);
        await carol.ConnectAsync(alice.ListenAddresses[0], Ct);
        foreach (Libp2pChatNetwork network in new[] { alice, bob, carol })
            await network.JoinRoomAsync("lobby", Ct);
        await TestNetworks.InMeshAsync(alice, bob);
        await TestNetworks.InMeshAsync(alice, carol);
        string path = Path.GetTempFileName();
        try
        {
            byte[] content = RandomNumberGenerator.GetBytes(200_000);
            await File.WriteAllBytesAsync(path, content, Ct);
            FileOffer offer = new(DirectIds.New(), "x.bin", content.Length, Convert.ToHexStringLower(SHA256.HashData(content)));
            bob.Offers = (_, id) => id == offer.Id ? new OfferedFile(offer, path, File.GetLastWriteTimeUtc(path), null) : null;

            await bob.PublishFileOfferAsync("lobby", "bob", "offers x.bin", offer, Ct);

            RoomFileOffered heard = await carol.Events.NextAsync<RoomFileOffered>();
            Assert.Equal(bob.LocalPeerId, heard.PeerId);
            string bobAddress = bob.Host.ListenAddresses[0].ToString();
            Assert.Equal([bobAddress], heard.Offer.Addresses);
            Assert.False(carol.IsConnected(bob.LocalPeerId));

            await carol.DialPeerAsync(bob.LocalPeerId, heard.Offer.Addresses!, Ct);

            Assert.True(carol.IsConnected(bob.LocalPeerId));
            (Stream bytes, long size) = await carol.OpenFileAsync(bob.LocalPeerId, offer.Id, 0, Ct);
            await using (bytes)
            {
                using MemoryStream received = new();
                await bytes.CopyToAsync(received, Ct);
                Assert.Equal(content.Length, size);
                Assert.Equal(content, received.ToArray());
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task DirectOffer_CarriesTheSendersAddresses()
    {
        await using Libp2pChatNetwork a = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork b = await TestNetworks.StartAsync();
        await b.ConnectAsync(a.ListenAddresses[0], Ct);
        FileOffer offer = new(DirectIds.New(), "report.pdf", 1234, new string('a', 64));

        Task sending = b.SendDirectAsync(a.LocalPeerId, new DirectEnvelope(DirectIds.New(), "bob", DateTimeOffset.UtcNow, null, offer), Ct);

        DirectArrived arrived = await a.Events.NextAsync<DirectArrived>();
        arrived.Receipt!.Stored();
        await sending.WaitAsync(TestNetworks.Wait, Ct);
        Assert.Equal(offer with { Addresses = [b.Host.ListenAddresses[0].ToString()] }, arrived.Envelope.Offer);
    }

    [Fact(Timeout = 30_000)]
    public async Task DialPeer_NothingListens_FailsNamingTheAddressAndTheReason()
    {
        await using Libp2pChatNetwork carol = await TestNetworks.StartAsync();
        string closed = $"/ip4/127.0.0.1/tcp/{ClosedPort()}";

        ChatNetworkException e = await Assert.ThrowsAsync<ChatNetworkException>(() => carol.DialPeerAsync(Offerer, [closed], Ct));

        Assert.StartsWith(closed + ": ", e.Message);
        Assert.Contains("refused", e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact(Timeout = 30_000)]
    public async Task DialPeer_NoAddressKnown_SaysSo_AndOurOwnIdIsRefused()
    {
        await using Libp2pChatNetwork carol = await TestNetworks.StartAsync();

        ChatNetworkException none = await Assert.ThrowsAsync<ChatNetworkException>(() => carol.DialPeerAsync(Offerer, [], Ct));
        Assert.Contains("no address of it is known", none.Message);
        ChatNetworkException own = await Assert.ThrowsAsync<ChatNetworkException>(() =>
            carol.DialPeerAsync(carol.LocalPeerId, [carol.Host.ListenAddresses[0].ToString()], Ct));
        Assert.Contains("our own peer id", own.Message);
    }

    [Fact(Timeout = 30_000)]
    public async Task DialPeer_WithoutHints_UsesTheRememberedAddresses()
    {
        await using Libp2pChatNetwork bob = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork carol = await TestNetworks.StartAsync(Remembering);
        Multiaddr bobAddress = bob.Host.ListenAddresses[0];
        carol.Book!.Seen(bob.Id(), DateTimeOffset.UtcNow, bobAddress);

        await carol.DialPeerAsync(bob.LocalPeerId, [], Ct);

        Assert.True(carol.IsConnected(bob.LocalPeerId));
    }

    [Fact(Timeout = 30_000)]
    public async Task DialCandidates_OfferFirst_ThenRemembered_ThenIdentify_WithoutDuplicatesOrUndialables()
    {
        await using Libp2pChatNetwork bob = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork carol = await TestNetworks.StartAsync(Remembering);
        await carol.ConnectAsync(bob.ListenAddresses[0], Ct);
        await TestHosts.WaitUntilAsync(() => carol.Host.PeerStore.Get(bob.Id()) is not null, "identify answered");
        Multiaddr identified = bob.Host.ListenAddresses[0];
        carol.Book!.Seen(bob.Id(), DateTimeOffset.UtcNow);
        carol.Book.Reported(bob.Id(), [Multiaddr.Parse("/ip4/10.0.0.7/tcp/4001"), Multiaddr.Parse("/ip4/0.0.0.0/tcp/4001"), identified]);

        IReadOnlyList<Multiaddr> candidates = carol.DialCandidates(bob.Id(), ["/ip4/192.168.1.20/tcp/4001", "/ip4/10.0.0.7/tcp/4001"]);

        Assert.Equal(["/ip4/192.168.1.20/tcp/4001", "/ip4/10.0.0.7/tcp/4001", identified.ToString()], candidates.Select(a => a.ToString()));
    }

    [Fact(Timeout = 30_000)]
    public async Task DialCandidates_AreAtMostSixteen_FromEverySourceTogether()
    {
        await using Libp2pChatNetwork bob = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork carol = await TestNetworks.StartAsync(Remembering);
        // Bob dials: carol's book has no dialed address of his, only what identify reported (replaced below).
        await bob.ConnectAsync(carol.ListenAddresses[0], Ct);
        await TestHosts.WaitUntilAsync(() => carol.Host.PeerStore.Get(bob.Id()) is not null && carol.Book!.Addresses(bob.Id()).Count > 0,
            "identify answered and remembered");
        string identified = bob.Host.ListenAddresses[0].ToString();
        string[] remembered = [.. Enumerable.Range(1, 8).Select(n => $"/ip4/10.0.0.{n}/tcp/4001")];
        carol.Book!.Reported(bob.Id(), [.. remembered.Select(Multiaddr.Parse)]);
        string[] hints = [.. Enumerable.Range(1, 8).Select(n => $"/ip4/192.168.1.{n}/tcp/4001")];

        // 7 offered + 8 remembered + 1 identified: sixteen, all tried.
        List<string> under = [.. carol.DialCandidates(bob.Id(), hints[..7]).Select(a => a.ToString())];
        Assert.Equal(16, under.Count);
        Assert.Equal(identified, under[^1]);

        // 8 offered + 8 remembered + 1 identified: the identified one is past the cap.
        List<string> over = [.. carol.DialCandidates(bob.Id(), hints).Select(a => a.ToString())];
        Assert.Equal(16, over.Count);
        Assert.Equal(hints, over[..8]);
        Assert.Equal(remembered.Order(StringComparer.Ordinal), over[8..].Order(StringComparer.Ordinal));
        Assert.DoesNotContain(identified, over);
    }

    [Fact]
    public void RoomMessage_Addrs_RoundTrip_AndAnOfferWithoutThemIsStillValid()
    {
        FileOffer offer = new FileOffer(DirectIds.New(), "a.txt", 5, new string('b', 64)) { Addresses = ["/ip4/192.168.1.20/tcp/4001"] };
        byte[] data = RoomMessageCodec.Encode("offers a.txt", Offerer, "bob", DateTimeOffset.UnixEpoch, offer);
        Assert.Contains("\"Addrs\":[\"/ip4/192.168.1.20/tcp/4001\"]", Encoding.UTF8.GetString(data));
        Assert.Equal(offer, RoomMessageCodec.Decode(data).File);

        string old = $"{{\"Message\":\"m\",\"SenderID\":\"{Offerer}\",\"File\":{{\"Id\":\"{offer.Id}\",\"Name\":\"a.txt\",\"Size\":5,\"Sha256\":\"{offer.Sha256}\"}}}}";
        Assert.Equal(offer with { Addresses = null }, RoomMessageCodec.Decode(Encoding.UTF8.GetBytes(old)).File);
        string odd = old.Replace("\"Size\":5", "\"Size\":5,\"Addrs\":[1,\"x\",{},\"/ip4/10.0.0.1/tcp/1\"]", StringComparison.Ordinal);
        Assert.Equal(["/ip4/10.0.0.1/tcp/1"], RoomMessageCodec.Decode(Encoding.UTF8.GetBytes(odd)).File!.Addresses);
    }

    [Fact(Timeout = 90_000)]
    public async Task Get_ThroughTheChat_CarolDialsBobFromHisRoomOffer_AndAfterBobLeftSaysWhyWithinTheBound()
    {
        DirectoryInfo temp = Directory.CreateTempSubdirectory("echo-dialing-test-");
        try
        {
            await using Node alice = await Node.StartAsync("alice", temp);
            await using Node bob = await Node.StartAsync("bob", temp);
            await using Node carol = await Node.StartAsync("carol", temp);
            await bob.Network.ConnectAsync(alice.Network.ListenAddresses[0], Ct);
            await carol.Network.ConnectAsync(alice.Network.ListenAddresses[0], Ct);
            await TestNetworks.InMeshAsync(alice.Network, bob.Network);
            await TestNetworks.InMeshAsync(alice.Network, carol.Network);
            string path = Path.Combine(temp.FullName, "shared.bin");
            byte[] content = RandomNumberGenerator.GetBytes(300_000);
            await File.WriteAllBytesAsync(path, content, Ct);

            await bob.Chat.SubmitAsync($"/send {path}", Ct);
            FileOfferEvent heard = await carol.EventAsync<FileOfferEvent>();
            Assert.False(carol.Network.IsConnected(bob.Network.LocalPeerId));
            await carol.Chat.SubmitAsync("/get " + heard.Offer.Id, Ct);

            await carol.EventAsync<NoticeEvent>(n => n.Text == "connecting to bob…");
            FileDoneEvent done = await carol.EventAsync<FileDoneEvent>();
            Assert.Equal(content, await File.ReadAllBytesAsync(done.Path, Ct));

            // A second offer, then bob goes away: the repeated fetch fails with the reason, in time.
            await bob.Chat.SubmitAsync($"/send {path}", Ct);
            FileOfferEvent second = await carol.EventAsync<FileOfferEvent>(o => o.Offer.Id != heard.Offer.Id);
            await bob.DisposeAsync();
            await TestHosts.WaitUntilAsync(() => !carol.Network.IsConnected(bob.Network.LocalPeerId), "bob is gone");
            long started = TimeProvider.System.GetTimestamp();
            await carol.Chat.SubmitAsync("/get " + second.Offer.Id, Ct);
            FileErrorEvent error = await carol.EventAsync<FileErrorEvent>(e => e.Id == second.Offer.Id);
            Assert.Contains("cannot reach bob", error.Message);
            Assert.True(TimeProvider.System.GetElapsedTime(started) < TimeSpan.FromSeconds(10),
                $"the error took {TimeProvider.System.GetElapsedTime(started)}");
        }
        finally
        {
            temp.Delete(recursive: true);
        }
    }

    private static int ClosedPort()
    {
        using TcpListener listener = new(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>An adapter and a chat with its own downloads folder, and every chat event it produced.</summary>
    private sealed class Node : IAsyncDisposable
    {
        private ChatEventRecorder _events = null!;
        private int _disposed;

        public required Libp2pChatNetwork Network { get; init; }

        public required ChatManager Chat { get; init; }

        public static async Task<Node> StartAsync(string nick, DirectoryInfo temp)
        {
            Libp2pChatNetwork network = new(TestNetworks.NewHost(), TestNetworks.Options, NullLoggerFactory.Instance);
            ChatManager chat = new(network, new ChatOptions
            {
                Nick = nick,
                PeerConnectTimeout = TimeSpan.FromSeconds(5),
                Files = new FileSharingOptions { DownloadsDirectory = Path.Combine(temp.FullName, nick, "downloads") },
            }, NullLogger<ChatManager>.Instance);
            Node node = new() { Network = network, Chat = chat };
            node._events = new ChatEventRecorder(chat.Subscribe());
            await chat.StartAsync(Ct);
            return node;
        }

        public Task<T> EventAsync<T>(Func<T, bool>? match = null) where T : ChatEvent => _events.EventAsync(match);

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
                return;
            _events.Dispose();
            await Chat.DisposeAsync();
        }
    }
}
