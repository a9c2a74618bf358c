using System.Buffers.Binary;
using System.Text.Json;
using Echo.Core.Chat;
using Echo.Net.Identity;
using Echo.Net.Pubsub;
using Echo.Protocols.Rooms;
using Echo.Storage;
using Google.Protobuf;
using Microsoft.Data.Sqlite;

namespace Echo.SystemTests;

/// <summary>
/// Offline catch-up with real echo-chat processes: alice syncs a room with bob, goes offline, bob
/// writes ten messages, and alice, back and connected only to bob, gets all ten by history sync;
/// five times in a row, from a first sync of an empty room, and past a message dated 2999 or 1970.
/// </summary>
public sealed class HistoryCatchUpEndToEndTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("echo-catch-up-test-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_root, recursive: true);
    }

    private string DataDir(string name) => Directory.CreateDirectory(Path.Combine(_root, name)).FullName;

    [Theory(Timeout = 240_000)]
    [InlineData(0)]
    [InlineData(2999)]
    [InlineData(1970)]
    public async Task NodeBackFromOffline_GetsEveryMessageFromItsOnlyPeer_FiveTimesInARow(int datedYear)
    {
        string bobDir = DataDir("bob"), aliceDir = DataDir("alice");
        string aliceLog = Path.Combine(_root, "alice.log");
        // A peer (dave, gone since) published a validly signed message dated in that year, and bob stored it.
        string? datedId = datedYear == 0 ? null : await StoreDatedMessageAsync(bobDir, new DateTimeOffset(datedYear, 1, 1, 0, 0, 1, TimeSpan.Zero));

        // alice's first sync of the room with bob: empty, or only dave's message.
        EchoChatProcess? bob = await EchoChatProcess.StartAsync("bob", [], Ct, bobDir);
        try
        {
            await using (EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", ["--connect", bob.Address, "--log-file", aliceLog], Ct,
                             aliceDir))
            {
                if (datedId is not null)
                {
                    JsonElement dated = await alice.NextAsync(e => e.GetProperty("type").GetString() == "message"
                                                                   && e.GetProperty("id").GetString() == datedId, TimeSpan.FromSeconds(20), Ct);
                    Assert.True(dated.GetProperty("history").GetBoolean());
                    // Shown at the time alice got it, marked, not in 2999 or 1970.
                    Assert.True(dated.GetProperty("clockClamped").GetBoolean());
                    Assert.InRange(DateTimeOffset.Parse(dated.GetProperty("ts").GetString()!, global::System.Globalization.CultureInfo.InvariantCulture),
                        DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));
                }
                await MdnsHostileLanTests.WaitForLogLineAsync(aliceLog,
                    l => l.Contains($"History sync of lobby with {bob.PeerId}: ", StringComparison.Ordinal), TimeSpan.FromSeconds(20));
            }

            List<string> written = [];
            for (int restart = 1; restart <= 5; restart++)
            {
                // alice is off; bob writes ten messages, then restarts, so that nothing of them is left in
                // his gossip window: only history sync can bring them to alice.
                List<string> round = [];
                for (int i = 0; i < 10; i++)
                {
                    await bob.SendLineAsync($"restart {restart} line {i}");
                    JsonElement own = await bob.MessageAsync($"restart {restart} line {i}", Ct);
                    round.Add(own.GetProperty("id").GetString()!);
                }
                EchoChatProcess stopping = bob;
                bob = null;
                await stopping.DisposeAsync();
                bob = await EchoChatProcess.StartAsync("bob", [], Ct, bobDir);

                await using EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", ["--connect", bob.Address, "--log-file", aliceLog],
                    Ct, aliceDir);
                HashSet<string> missing = [.. round];
                while (missing.Count > 0)
                {
                    JsonElement message;
                    try
                    {
                        message = await alice.NextAsync(e => e.GetProperty("type").GetString() == "message"
                                                             && missing.Contains(e.GetProperty("id").GetString()!), TimeSpan.FromSeconds(20), Ct);
                    }
                    catch (TimeoutException e)
                    {
                        throw new TimeoutException($"restart {restart}: {missing.Count} of 10 never arrived; alice's log:\n" +
                                                   string.Join('\n', (await ReadSharedAsync(aliceLog)).TakeLast(30)), e);
                    }
                    Assert.True(message.GetProperty("history").GetBoolean());
                    missing.Remove(message.GetProperty("id").GetString()!);
                }
                written.AddRange(round);
            }

            // All fifty in alice's history, verified against bob's signature.
            (int exit, string stdout, string stderr) = await EchoChatProcess.RunWithOutputAsync(
                ["history", "--data-dir", aliceDir, "--room", "lobby", "--json"], Ct);
            Assert.True(exit == 0, stderr);
            Dictionary<string, JsonElement> exported = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => JsonDocument.Parse(l).RootElement).ToDictionary(e => e.GetProperty("id").GetString()!);
            Assert.All(written, id =>
            {
                Assert.True(exported.ContainsKey(id), $"{id} is not in alice's history");
                Assert.True(exported[id].GetProperty("verified").GetBoolean());
                Assert.Equal(bob.PeerId, exported[id].GetProperty("from").GetString());
            });
        }
        finally
        {
            if (bob is not null)
                await bob.DisposeAsync();
        }
    }

    /// <summary>
    /// Stores in <paramref name="dataDir"/>'s history a room message that a fresh key signed with
    /// the libp2p pubsub signature, dated <paramref name="when"/>, as a node that received it would
    /// have; returns its id.
    /// </summary>
    private static async Task<string> StoreDatedMessageAsync(string dataDir, DateTimeOffset when)
    {
        using KeyPair dave = KeyPair.Generate();
        string from = dave.PeerId.ToString();
        byte[] data = RoomMessageCodec.Encode($"written in {when.Year}", from, "dave", when);
        byte[] seqno = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(seqno, 1);
        byte[] fromBytes = dave.PeerId.ToBytes();
        // "libp2p-pubsub:" || Message{from = 1, data = 2, seqno = 3, topic = 4}
        using MemoryStream signed = new();
        signed.Write(PubsubMessage.SignPrefix);
        CodedOutputStream fields = new(signed, leaveOpen: true);
        fields.WriteTag(1, WireFormat.WireType.LengthDelimited);
        fields.WriteBytes(ByteString.CopyFrom(fromBytes));
        fields.WriteTag(2, WireFormat.WireType.LengthDelimited);
        fields.WriteBytes(ByteString.CopyFrom(data));
        fields.WriteTag(3, WireFormat.WireType.LengthDelimited);
        fields.WriteBytes(ByteString.CopyFrom(seqno));
        fields.WriteTag(4, WireFormat.WireType.LengthDelimited);
        fields.WriteString("chat-room:lobby");
        fields.Flush();
        SignedEnvelope envelope = new(fromBytes, seqno, data, dave.Sign(signed.ToArray()), []);
        ChatMessage message = SignedRoomMessage.Open("lobby", envelope, DateTimeOffset.UtcNow, out string? error)
                              ?? throw new InvalidOperationException(error);
        Assert.Equal(when, message.Timestamp);
        await using SqliteMessageStore store = SqliteMessageStore.Open(Path.Combine(dataDir, SqliteMessageStore.FileName));
        Assert.Single(await store.AddAsync([message], Ct));
        return message.Id;
    }

    private static async Task<string[]> ReadSharedAsync(string path)
    {
        if (!File.Exists(path))
            return [];
        await using FileStream stream = new(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using StreamReader reader = new(stream);
        return (await reader.ReadToEndAsync(Ct)).Split('\n');
    }
}
