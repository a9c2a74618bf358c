using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;

namespace Echo.SystemTests;

/// <summary>
/// A file offered by a peer we only hear through another: carol, connected to alice alone, fetches
/// bob's room offer (Echo dials bob from the offer's addresses); with bob gone, a clear error
/// arrives within the bound. Real `echo-chat --headless` processes on 127.0.0.1.
/// </summary>
public sealed class FileReachEndToEndTests : IDisposable
{
    /// <summary>The wait for a peer that does not answer (ChatOptions.PeerConnectTimeout), and some slack for a busy machine.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15) + TimeSpan.FromSeconds(5);

    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("echo-reach-e2e-");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _temp.Delete(recursive: true);

    private string Folder(string name) => Directory.CreateDirectory(Path.Combine(_temp.FullName, name)).FullName;

    private static bool Is(JsonElement e, string type) => e.GetProperty("type").GetString() == type;

    private static string Text(JsonElement e, string property) => e.GetProperty(property).GetString()!;

    [Fact(Timeout = 180_000)]
    public async Task Get_OfAnOfferHeardThroughAlice_DialsBob_AndTheFileArrives_WithBobGoneAClearErrorWithinTheBound()
    {
        string downloads = Folder("carol-downloads");
        string outbox = Folder("outbox");
        await using EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct);
        await using EchoChatProcess bob = await EchoChatProcess.StartAsync("bob", ["--connect", alice.Address], Ct);
        await using EchoChatProcess carol = await EchoChatProcess.StartAsync("carol", ["--connect", alice.Address, "--downloads", downloads], Ct);
        await alice.PeerEventAsync("connected", bob.PeerId, Ct);
        await alice.PeerEventAsync("connected", carol.PeerId, Ct);
        await HeadlessEndToEndTests.WaitUntilRoomFormedAsync(bob, [carol], "lobby");

        byte[] content = RandomNumberGenerator.GetBytes(3 << 20);
        string source = Path.Combine(outbox, "from-bob.bin");
        await File.WriteAllBytesAsync(source, content, Ct);
        await bob.SendLineAsync($"/send {source}");
        JsonElement offer = await carol.NextAsync(e => Is(e, "file-offer"), TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(bob.PeerId, Text(offer, "from"));
        Assert.Equal("lobby", Text(offer, "room"));
        Assert.DoesNotContain(carol.Drain(), e => Is(e, "peer") && Text(e, "peerId") == bob.PeerId);   // heard through alice only

        await carol.SendLineAsync("/get " + Text(offer, "id"));

        JsonElement connecting = await carol.NextAsync(e => (Is(e, "notice") && Text(e, "text").StartsWith("connecting", StringComparison.Ordinal))
                                                            || Is(e, "file-error") || Is(e, "file-done"), TimeSpan.FromSeconds(20), Ct);
        Assert.Equal("connecting to bob…", Text(connecting, "text"));
        JsonElement done = await carol.NextAsync(e => (Is(e, "file-done") || Is(e, "file-error")) && Text(e, "id") == Text(offer, "id"),
            TimeSpan.FromSeconds(60), Ct);
        Assert.True(Is(done, "file-done"), done.GetRawText());
        Assert.Equal(Path.Combine(downloads, "from-bob.bin"), Text(done, "path"));
        Assert.Equal(content, await File.ReadAllBytesAsync(Text(done, "path"), Ct));

        // bob offers again and then dies: carol's /get says why, within the bound.
        await bob.SendLineAsync($"/send {source}");
        JsonElement second = await carol.NextAsync(e => Is(e, "file-offer"), TimeSpan.FromSeconds(30), Ct);
        bob.Kill();
        await bob.WaitForExitAsync(TimeSpan.FromSeconds(10), Ct);
        await carol.PeerEventAsync("disconnected", bob.PeerId, Ct);
        Stopwatch waited = Stopwatch.StartNew();
        await carol.SendLineAsync("/get " + Text(second, "id"));

        JsonElement error = await carol.NextAsync(e => (Is(e, "file-error") || Is(e, "file-done")) && Text(e, "id") == Text(second, "id"),
            Bound, Ct);
        Assert.True(Is(error, "file-error"), error.GetRawText());
        Assert.Contains("cannot reach bob", Text(error, "message"));
        Assert.Contains("/get " + Text(second, "id"), Text(error, "message"));
        Assert.True(waited.Elapsed < Bound, $"the error took {waited.Elapsed}");
        Assert.Single(Directory.GetFiles(downloads));
    }
}
