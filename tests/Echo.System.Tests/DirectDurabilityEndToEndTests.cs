using System.Diagnostics;
using System.Text.Json;
using Echo.Core.Direct;
using Echo.Storage;

namespace Echo.SystemTests;

/// <summary>
/// An acknowledged direct message is stored: under a flood from a third peer, when the receiver is
/// killed right after acknowledging, and on a full disk. Real `echo-chat --headless` processes on
/// 127.0.0.1; the receiver's history file is read after it stopped. The floods take every core they
/// get, so these run alone (after the parallel tests), not beside timing-bound ones.
/// </summary>
[Collection(DirectDurabilityCollection.Name)]
public sealed class DirectDurabilityEndToEndTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("echo-dm-durable-");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _temp.Delete(recursive: true);

    private string Folder(string name) => Directory.CreateDirectory(Path.Combine(_temp.FullName, name)).FullName;

    private static bool Is(JsonElement e, string type) => e.GetProperty("type").GetString() == type;

    private static string Text(JsonElement e, string property) => e.GetProperty(property).GetString()!;

    /// <summary>The ids of the direct messages from <paramref name="peerId"/> in the history at <paramref name="dataDirectory"/>.</summary>
    private static async Task<HashSet<string>> StoredFromAsync(string dataDirectory, string peerId)
    {
        await using SqliteMessageStore store = SqliteMessageStore.Open(Path.Combine(dataDirectory, SqliteMessageStore.FileName), mustExist: true);
        IReadOnlyList<DirectMessage> conversation = await store.ConversationAsync(peerId, 100_000, Ct);
        return [.. conversation.Where(m => !m.Outgoing).Select(m => m.Id)];
    }

    /// <summary>The sender's view: what it sent and which of those the receiver acknowledged, whatever else it reports.</summary>
    private sealed class SenderLog(EchoChatProcess process)
    {
        public List<string> Sent { get; } = [];

        public HashSet<string> Acknowledged { get; } = [];

        /// <summary>The next event matching <paramref name="match"/>; every dm-sent and dm-ack on the way is recorded.</summary>
        public Task<JsonElement> NextAsync(Func<JsonElement, bool> match, TimeSpan timeout) =>
            process.NextAsync(e =>
            {
                if (Is(e, "dm-sent"))
                    Sent.Add(Text(e, "id"));
                else if (Is(e, "dm-ack"))
                    Acknowledged.Add(Text(e, "id"));
                return match(e);
            }, timeout, Ct);

        public void Drain()
        {
            foreach (JsonElement e in process.Drain())
            {
                if (Is(e, "dm-sent"))
                    Sent.Add(Text(e, "id"));
                else if (Is(e, "dm-ack"))
                    Acknowledged.Add(Text(e, "id"));
            }
        }

        public async Task AllAcknowledgedAsync(int count, TimeSpan timeout)
        {
            if (Acknowledged.Count < count)
                await NextAsync(_ => Acknowledged.Count >= count, timeout);
        }
    }

    [Theory(Timeout = 180_000)]
    [InlineData("dm")]
    [InlineData("echo-go")]
    public async Task Flood_FromAThirdPeer_EveryDirectMessageOfAnHonestPeerIsAcknowledgedAndStored(string flood)
    {
        string receiverData = Folder("receiver");
        await using EchoChatProcess receiver = await EchoChatProcess.StartAsync("receiver", [], Ct, receiverData);
        await using EchoChatProcess honest = await EchoChatProcess.StartAsync("honest", ["--connect", receiver.Address], Ct);
        await receiver.PeerEventAsync("connected", honest.PeerId, Ct);
        SenderLog log = new(honest);
        await log.NextAsync(e => Is(e, "peer") && Text(e, "event") == "connected", TimeSpan.FromSeconds(20));

        long flooded;
        await using (Flooder flooder = flood == "dm"
                         ? await Flooder.DirectMessagesAsync(receiver.Address, senders: 64, Ct)
                         : await Flooder.EchoGoLinesAsync(receiver.Address, streams: 8, Ct))
        {
            // the flood is on before the honest peer starts
            await receiver.NextAsync(e => Is(e, flood == "dm" ? "dm" : "message") && Text(e, "nick") == "flood"
                                          || Is(e, "message") && Text(e, "origin") == "echo-go", TimeSpan.FromSeconds(20), Ct);
            for (int i = 0; i < 40; i++)
                await honest.SendLineAsync($"/msg {receiver.PeerId} honest {i}");
            await log.AllAcknowledgedAsync(40, TimeSpan.FromSeconds(90));
            flooded = flooder.Delivered;
        }
        log.Drain();
        Assert.Equal(40, log.Sent.Count);
        Assert.Equal(log.Sent.ToHashSet(), log.Acknowledged);
        Assert.True(flooded >= 200, $"the flood got only {flooded} through");

        await receiver.DisposeAsync();   // stops it (stdin closed), then the file is read
        HashSet<string> stored = await StoredFromAsync(receiverData, honest.PeerId);
        Assert.Equal(log.Acknowledged, stored);
    }

    /// <summary>
    /// 15 times: the receiver is killed (SIGKILL) as soon as the sender reports an acknowledgement.
    /// Every acknowledged message is in the receiver's history afterwards; the others stay in the
    /// sender's outbox and are sent again when the receiver is back, until all arrived.
    /// </summary>
    [Fact(Timeout = 300_000)]
    public async Task KilledRightAfterAnAcknowledgement_NoAcknowledgedMessageIsMissing_15Runs()
    {
        const int runs = 15, perRun = 3;
        string receiverData = Folder("receiver");
        await using EchoChatProcess sender = await EchoChatProcess.StartAsync("sender", [], Ct);
        SenderLog log = new(sender);
        string receiverId = "";
        for (int run = 0; run < runs; run++)
        {
            await using EchoChatProcess receiver = await EchoChatProcess.StartAsync("receiver", ["--connect", sender.Address], Ct, receiverData);
            receiverId = receiver.PeerId;
            await log.NextAsync(e => Is(e, "peer") && Text(e, "event") == "connected" && Text(e, "peerId") == receiverId,
                TimeSpan.FromSeconds(20));
            int before = log.Acknowledged.Count;
            for (int i = 0; i < perRun; i++)
                await sender.SendLineAsync($"/msg {receiverId} run {run} message {i}");
            await log.NextAsync(_ => log.Acknowledged.Count > before, TimeSpan.FromSeconds(20));
            receiver.Kill();
            await receiver.WaitForExitAsync(TimeSpan.FromSeconds(10), Ct);
            await log.NextAsync(e => Is(e, "peer") && Text(e, "event") == "disconnected" && Text(e, "peerId") == receiverId,
                TimeSpan.FromSeconds(20));
            log.Drain();
            HashSet<string> stored = await StoredFromAsync(receiverData, sender.PeerId);
            Assert.Empty(log.Acknowledged.Except(stored));
        }

        // Back once more: what was never acknowledged is still in the outbox and arrives now.
        await using (EchoChatProcess receiver = await EchoChatProcess.StartAsync("receiver", ["--connect", sender.Address], Ct, receiverData))
        {
            await log.AllAcknowledgedAsync(runs * perRun, TimeSpan.FromSeconds(60));
        }
        log.Drain();
        Assert.Equal(runs * perRun, log.Sent.Count);
        Assert.Equal(log.Sent.ToHashSet(), log.Acknowledged);
        Assert.Equal(log.Sent.ToHashSet(), await StoredFromAsync(receiverData, sender.PeerId));
    }

    /// <summary>
    /// The receiver's data directory is a small tmpfs, filled up while it runs: what it could not
    /// store is shown "not saved" with one error, is not acknowledged, and stays in the sender's
    /// outbox; once there is room again, a reconnect delivers it.
    /// </summary>
    [Fact(Timeout = 180_000)]
    public async Task FullDisk_NothingAcknowledgedThatWasNotStored_AndTheReceiverSaysNotSaved()
    {
        string receiverData = Folder("receiver-tmpfs");
        await RunAsync("mount", "-t", "tmpfs", "-o", "size=6m,mode=0700", "tmpfs", receiverData);
        try
        {
            await using EchoChatProcess sender = await EchoChatProcess.StartAsync("sender", [], Ct);
            SenderLog log = new(sender);
            string receiverId;
            await using (EchoChatProcess receiver = await EchoChatProcess.StartAsync("receiver", ["--connect", sender.Address], Ct, receiverData))
            {
                receiverId = receiver.PeerId;
                await log.NextAsync(e => Is(e, "peer") && Text(e, "event") == "connected", TimeSpan.FromSeconds(20));
                await sender.SendLineAsync($"/msg {receiverId} before the disk is full");
                await log.AllAcknowledgedAsync(1, TimeSpan.FromSeconds(20));

                FillUp(Path.Combine(receiverData, "filler"));
                string text = new('x', 3000);
                JsonElement? error = null;
                List<JsonElement> unsaved = [];
                for (int i = 0; i < 40 && (error is null || unsaved.Count == 0); i++)
                {
                    await sender.SendLineAsync($"/msg {receiverId} {i} {text}");
                    await log.NextAsync(e => Is(e, "dm-sent"), TimeSpan.FromSeconds(10));
                    foreach (JsonElement e in receiver.Drain())
                    {
                        if (Is(e, "error") && Text(e, "message").Contains("not saved", StringComparison.Ordinal))
                            error ??= e;
                        else if (Is(e, "dm") && e.TryGetProperty("notSaved", out JsonElement flag) && flag.GetBoolean())
                            unsaved.Add(e);
                    }
                    if (error is null || unsaved.Count == 0)
                        await Task.Delay(50, Ct);   // let the receiver try to store what it got
                }
                Assert.True(error is not null, "no error event about messages not saved");
                Assert.NotEmpty(unsaved);
                Assert.Single(receiver.Drain().Append(error.Value), e => Is(e, "error") && Text(e, "message").Contains("not saved", StringComparison.Ordinal));

                receiver.Kill();   // the file as it is now: every acknowledged message must be in it
                await receiver.WaitForExitAsync(TimeSpan.FromSeconds(10), Ct);
                await log.NextAsync(e => Is(e, "peer") && Text(e, "event") == "disconnected", TimeSpan.FromSeconds(20));
                log.Drain();
                File.Delete(Path.Combine(receiverData, "filler"));
                HashSet<string> stored = await StoredFromAsync(receiverData, sender.PeerId);
                Assert.Empty(log.Acknowledged.Except(stored));
                Assert.NotEmpty(log.Sent.Except(log.Acknowledged));   // some waited in the outbox
                foreach (JsonElement e in unsaved)
                    Assert.DoesNotContain(Text(e, "id"), log.Acknowledged);
            }

            // Room again: the receiver comes back and the outbox is delivered.
            await using (EchoChatProcess receiver = await EchoChatProcess.StartAsync("receiver", ["--connect", sender.Address], Ct, receiverData))
            {
                await log.AllAcknowledgedAsync(log.Sent.Count, TimeSpan.FromSeconds(60));
            }
            Assert.Equal(log.Sent.ToHashSet(), await StoredFromAsync(receiverData, sender.PeerId));
        }
        finally
        {
            await UnmountAsync(receiverData);
        }
    }

    /// <summary>Writes zeros to <paramref name="path"/> until the file system is full.</summary>
    private static void FillUp(string path)
    {
        byte[] block = new byte[16 * 1024];
        using FileStream file = new(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None);
        try
        {
            while (true)
            {
                file.Write(block);
            }
        }
        catch (IOException)
        {
            // ENOSPC: full
        }
        try
        {
            file.Flush();
        }
        catch (IOException)
        {
        }
    }

    private static async Task UnmountAsync(string path)
    {
        if ((await RunAsync(false, "umount", path)) != 0)
            await RunAsync(false, "umount", "-l", path);
    }

    private static Task RunAsync(params string[] command) => RunAsync(true, command);

    private static async Task<int> RunAsync(bool check, params string[] command)
    {
        ProcessStartInfo start = new(command[0]) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string arg in command[1..])
            start.ArgumentList.Add(arg);
        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"{command[0]} did not start");
        Task<string> stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        await process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        await process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None);
        if (check && process.ExitCode != 0)
            throw new InvalidOperationException($"{string.Join(' ', command)} failed ({process.ExitCode}): {await stderr}");
        return process.ExitCode;
    }
}

/// <summary>Runs <see cref="DirectDurabilityEndToEndTests"/> with no other test beside it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DirectDurabilityCollection
{
    public const string Name = "direct durability (alone)";
}
