using Echo.Core.Chat;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Multiformats;
using Echo.Protocols.History;
using Echo.Protocols.History.Pb;
using Echo.Storage;
using Google.Protobuf;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Protocols.Tests.Limits;

/// <summary>History serving per remote address (docs/LIMITS.md, L-history-serve): fresh identities from one host share one budget.</summary>
public sealed class HistoryServeLimitTests : IAsyncDisposable
{
    private const long AddressBytesPerMinute = 1024 * 1024;
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly string _directory = Directory.CreateTempSubdirectory("echo-serve-limit-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask DisposeAsync()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
            await _owned[i].DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact(Timeout = 120_000)]
    public async Task FiftyFreshIdentitiesFromOneAddress_AreServedWithinTheAddressCap()
    {
        ChatNetworkOptions options = TestNetworks.Options with
        {
            History = new HistorySyncOptions { PeerBytesPerMinute = 512 * 1024, AddressBytesPerMinute = AddressBytesPerMinute },
        };
        SqliteMessageStore store = SqliteMessageStore.Open(Path.Combine(_directory, "bob.db"));
        _owned.Add(store);
        Libp2pChatNetwork bob = new(TestNetworks.NewHost(), options, NullLoggerFactory.Instance, store: store);
        _owned.Add(bob);
        await bob.StartAsync(Ct);
        await bob.JoinRoomAsync("lobby", Ct);
        // About 2 MB of signed history: every identity alone could take its 512 KiB share of it.
        string text = new('x', 4000);
        List<ChatMessage> written = [];
        for (int i = 0; i < 500; i++)
            written.Add(await bob.PublishAsync("lobby", "bob", $"{i} {text}", Ct) with { Origin = MessageOrigin.Room });
        await store.AddAsync(written, Ct);

        Multiaddr target = Multiaddr.Parse(bob.ListenAddresses[0]);
        List<Libp2pHost> identities = [];
        for (int i = 0; i < 50; i++)
        {
            Libp2pHost host = TestNetworks.NewHost();
            _owned.Add(host);
            await host.StartAsync(Ct);
            await host.DialAsync(target, Ct);
            identities.Add(host);
        }

        DateTimeOffset start = DateTimeOffset.UtcNow;
        (int Pages, long Bytes)[] answers = await Task.WhenAll(identities.Select(h => RequestEverythingAsync(h, bob, TimeSpan.FromSeconds(4))));
        double seconds = (DateTimeOffset.UtcNow - start).TotalSeconds;
        long served = answers.Sum(a => a.Bytes);

        // 50 shares of 512 KiB would be 25 MiB; the address gets the burst of one minute's worth, what
        // refills while the test runs, and a margin. Only pages with messages count: the "retry later"
        // answers are a few bytes each, as many as the askers' loops make in 4 s.
        long cap = AddressBytesPerMinute + (long)(AddressBytesPerMinute / 60.0 * seconds) + 50L * 1024;
        Assert.InRange(served, AddressBytesPerMinute / 2, cap);
        Assert.True(answers.Sum(a => a.Pages) > 0);
        Assert.True(bob.GetStats().Refused.GetValueOrDefault("history.address-bytes") > 0);
    }

    /// <summary>Asks for the whole room from the start, again and again, ignoring "retry later", for <paramref name="duration"/>; returns the pages with messages and their bytes.</summary>
    private static async Task<(int Pages, long Bytes)> RequestEverythingAsync(Libp2pHost from, Libp2pChatNetwork to, TimeSpan duration)
    {
        P2PStream stream = await from.OpenStreamAsync(to.Host.PeerId, HistorySync.ProtocolId, Ct);
        int pages = 0;
        long bytes = 0;
        DateTimeOffset end = DateTimeOffset.UtcNow + duration;
        while (DateTimeOffset.UtcNow < end)
        {
            HistoryRequest request = new() { Room = "lobby", AfterTs = long.MinValue, Limit = 500 };
            await stream.Output.WriteLengthPrefixedAsync(request.ToByteArray(), Ct);
            byte[] frame = (await stream.Input.ReadLengthPrefixedAsync(HistorySync.MaxResponseBytes, HistorySync.ProtocolId, Ct))!;
            if (HistoryResponse.Parser.ParseFrom(frame).Messages.Count > 0)
            {
                pages++;
                bytes += frame.Length;
            }
        }
        await stream.CompleteOutputAsync();
        return (pages, bytes);
    }
}
