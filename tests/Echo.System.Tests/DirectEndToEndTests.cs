using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;

namespace Echo.SystemTests;

/// <summary>Direct messages and file transfers between real `echo-chat --headless` processes on 127.0.0.1.</summary>
public sealed class DirectEndToEndTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("echo-dm-test-");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _temp.Delete(recursive: true);

    private string Folder(string name) => Directory.CreateDirectory(Path.Combine(_temp.FullName, name)).FullName;

    private static bool Is(JsonElement e, string type) => e.GetProperty("type").GetString() == type;

    private static string Text(JsonElement e, string property) => e.GetProperty(property).GetString()!;

    [Fact(Timeout = 120_000)]
    public async Task Msg_ReachesOnlyItsRecipient_AndIsAcknowledged()
    {
        await using EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct);
        await using EchoChatProcess bob = await EchoChatProcess.StartAsync("bob", ["--connect", alice.Address], Ct);
        await using EchoChatProcess carol = await EchoChatProcess.StartAsync("carol", ["--connect", alice.Address, "--connect", bob.Address], Ct);
        await alice.PeerEventAsync("connected", bob.PeerId, Ct);
        await alice.PeerEventAsync("connected", carol.PeerId, Ct);
        await carol.PeerEventAsync("connected", bob.PeerId, Ct);

        string secret = "secret " + Convert.ToHexString(RandomNumberGenerator.GetBytes(8));
        await alice.SendLineAsync($"/msg {bob.PeerId} {secret}");

        JsonElement sent = await alice.NextAsync(e => Is(e, "dm-sent"), TimeSpan.FromSeconds(10), Ct);
        JsonElement dm = await bob.NextAsync(e => Is(e, "dm"), TimeSpan.FromSeconds(20), Ct);
        Assert.Equal(secret, Text(dm, "text"));
        Assert.Equal(alice.PeerId, Text(dm, "from"));
        Assert.Equal("alice", Text(dm, "nick"));
        Assert.Equal(Text(sent, "id"), Text(dm, "id"));
        JsonElement ack = await alice.NextAsync(e => Is(e, "dm-ack"), TimeSpan.FromSeconds(20), Ct);
        Assert.Equal(Text(sent, "id"), Text(ack, "id"));
        Assert.Equal(bob.PeerId, Text(ack, "to"));

        // bob answers by nick, learned from the direct message
        await bob.SendLineAsync("/msg alice got it");
        Assert.Equal("got it", Text(await alice.NextAsync(e => Is(e, "dm"), TimeSpan.FromSeconds(20), Ct), "text"));

        // carol is in the same room and connected to both, and sees neither message: a room
        // message sent after both arrives first, then everything carol got is checked.
        await carol.SendLineAsync($"/msg {alice.PeerId} marker");
        await alice.NextAsync(e => Is(e, "dm") && Text(e, "text") == "marker", TimeSpan.FromSeconds(20), Ct);
        List<JsonElement> seen = carol.Drain();
        Assert.DoesNotContain(seen, e => Is(e, "dm"));
        Assert.DoesNotContain(seen, e => e.GetRawText().Contains(secret, StringComparison.Ordinal) || e.GetRawText().Contains("got it"));
    }

    /// <summary>
    /// The outbox is in the history file: a message to an offline peer survives a restart of the
    /// sender and is delivered when the peer returns; both sides keep the conversation.
    /// </summary>
    [Fact(Timeout = 120_000)]
    public async Task Msg_ToAnOfflinePeer_SurvivesASenderRestart_AndIsDeliveredWhenThePeerReturns()
    {
        string aliceData = Folder("alice-data"), bobData = Folder("bob-data");
        string bobId;
        JsonElement queued;
        await using (EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct, aliceData))
        {
            await using (EchoChatProcess bob = await EchoChatProcess.StartAsync("bob", ["--connect", alice.Address], Ct, bobData))
            {
                bobId = bob.PeerId;
                await alice.PeerEventAsync("connected", bobId, Ct);
            }
            await alice.PeerEventAsync("disconnected", bobId, Ct);
            await alice.SendLineAsync($"/msg {bobId} while you were away");
            queued = await alice.NextAsync(e => Is(e, "dm-sent"), TimeSpan.FromSeconds(10), Ct);
        }

        await using EchoChatProcess aliceAgain = await EchoChatProcess.StartAsync("alice", [], Ct, aliceData);
        await using EchoChatProcess back = await EchoChatProcess.StartAsync("bob", ["--connect", aliceAgain.Address], Ct, bobData);
        Assert.Equal(bobId, back.PeerId);
        JsonElement dm = await back.NextAsync(e => Is(e, "dm"), TimeSpan.FromSeconds(20), Ct);
        Assert.Equal("while you were away", Text(dm, "text"));
        Assert.Equal(Text(queued, "id"), Text(dm, "id"));
        Assert.Equal(Text(queued, "id"), Text(await aliceAgain.NextAsync(e => Is(e, "dm-ack"), TimeSpan.FromSeconds(20), Ct), "id"));
    }

    /// <summary>
    /// Rule F-1 of docs/LIMITS.md, scaled to CI time: 200 MiB, the receiver killed (SIGKILL) early on and
    /// restarted, then the sender killed at about half and restarted; the download resumes from the
    /// partial file's length each time (never from zero), and the result is verified.
    /// </summary>
    [Fact(Timeout = 180_000)]
    public async Task Send_200MiB_SurvivesKillsOfBothSides_ResumesAndMatches()
    {
        const long size = 200L << 20;
        string source = Path.Combine(Folder("outbox"), "big.bin");
        string sha256 = WriteRandomFile(source, size, seed: 42);
        string aliceData = Folder("alice-data"), bobData = Folder("bob-data"), downloads = Folder("downloads");
        string[] bobArgs = ["--downloads", downloads];

        List<EchoChatProcess> started = [];
        async Task<EchoChatProcess> StartAsync(string name, string[] args, string data)
        {
            EchoChatProcess process = await EchoChatProcess.StartAsync(name, args, Ct, data);
            started.Add(process);
            return process;
        }
        try
        {
            EchoChatProcess alice = await StartAsync("alice", [], aliceData);
            EchoChatProcess bob = await StartAsync("bob", [.. bobArgs, "--connect", alice.Address], bobData);
            string aliceId = alice.PeerId, bobId = bob.PeerId;
            await alice.PeerEventAsync("connected", bobId, Ct);
            await alice.SendLineAsync($"/send {source} {bobId}");
            JsonElement offer = await bob.NextAsync(e => Is(e, "file-offer"), TimeSpan.FromSeconds(60), Ct);
            string id = Text(offer, "id");
            Assert.Equal(sha256, Text(offer, "sha256"));
            Assert.Equal(size, offer.GetProperty("size").GetInt64());
            await bob.SendLineAsync("/get " + id);

            // the receiver dies early on and comes back: it resumes its partial file
            await bob.NextAsync(e => Is(e, "file-progress") && e.GetProperty("bytes").GetInt64() >= size / 8, TimeSpan.FromSeconds(60), Ct);
            bob.Kill();
            await bob.WaitForExitAsync(TimeSpan.FromSeconds(10), Ct);
            Assert.Empty(Directory.GetFiles(downloads));     // nothing partial under a visible name
            bob = await StartAsync("bob", [.. bobArgs, "--connect", alice.Address], bobData);
            Assert.Equal(bobId, bob.PeerId);
            long firstResume = (await bob.NextAsync(e => Is(e, "file-resume"), TimeSpan.FromSeconds(60), Ct)).GetProperty("offset").GetInt64();
            Assert.True(firstResume > 0, $"resumed at {firstResume}");

            // then the sender dies at about half and comes back: the receiver goes on from where it stopped
            await bob.NextAsync(e => Is(e, "file-progress") && e.GetProperty("bytes").GetInt64() >= size / 2, TimeSpan.FromSeconds(60), Ct);
            alice.Kill();
            await alice.WaitForExitAsync(TimeSpan.FromSeconds(10), Ct);
            alice = await StartAsync("alice", ["--connect", bob.Address], aliceData);
            Assert.Equal(aliceId, alice.PeerId);
            long secondResume = (await bob.NextAsync(e => Is(e, "file-resume"), TimeSpan.FromSeconds(60), Ct)).GetProperty("offset").GetInt64();
            Assert.True(secondResume >= size / 2, $"resumed at {secondResume} after {firstResume}");
            Assert.Empty(Directory.GetFiles(downloads));

            JsonElement done = await bob.NextAsync(e => Is(e, "file-done") || Is(e, "file-error"), TimeSpan.FromSeconds(90), Ct);
            Assert.True(Is(done, "file-done"), done.GetRawText());
            Assert.Equal(Path.Combine(downloads, "big.bin"), Text(done, "path"));
            Assert.Equal(sha256, Text(done, "sha256"));
            await using FileStream result = File.OpenRead(Text(done, "path"));
            Assert.Equal(sha256, Convert.ToHexStringLower(await SHA256.HashDataAsync(result, Ct)));
        }
        finally
        {
            foreach (EchoChatProcess process in started)
                await process.DisposeAsync();
        }
    }

    /// <summary>Pseudo-random content from a seeded xorshift generator, fast enough for hundreds of MiB; returns its SHA-256.</summary>
    private static string WriteRandomFile(string path, long size, ulong seed)
    {
        using IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using FileStream file = new(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0);
        ulong[] block = new ulong[1 << 17];
        ulong state = seed | 1;
        for (long written = 0; written < size; written += block.Length * sizeof(ulong))
        {
            for (int i = 0; i < block.Length; i++)
            {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                block[i] = state;
            }
            Span<byte> bytes = MemoryMarshal.AsBytes(block.AsSpan())[..(int)Math.Min(block.Length * sizeof(ulong), size - written)];
            hash.AppendData(bytes);
            file.Write(bytes);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
