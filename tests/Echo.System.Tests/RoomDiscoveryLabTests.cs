using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Echo.TestKit.Lab;

namespace Echo.SystemTests;

/// <summary>
/// Rooms found through the real DHT in the NAT lab: alice behind router A and bob behind router B
/// know only the lab's js Kademlia servers (the first one also a circuit relay) and the room's name,
/// no address of each other. Each provides the room and looks it up: each lookup returns the other
/// with an address (its relay circuit), read from the debug log (<c>--log-level debug</c>). A public
/// Echo node in server mode joins the room and shows the messages of both.
/// </summary>
[Collection(NetworkNamespaceCollection.Name)]
public sealed partial class RoomDiscoveryLabTests
{
    private const string Room = "natroom";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void Report(string what, TimeSpan elapsed) =>
        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what}: {elapsed.TotalMilliseconds:0} ms"));


    [GeneratedRegex(@"Lookup of room natroom found provider (?<peer>\S+) with (?<count>\d+) address\(es\)")]
    private static partial Regex ProviderFound();

    /// <summary>Whether <paramref name="log"/> shows a lookup of the room that returned <paramref name="peerId"/> with at least one address.</summary>
    private static bool FoundWithAddress(string log, string peerId) =>
        ProviderFound().Matches(LabWait.ReadLog(log)).Any(m => m.Groups["peer"].Value == peerId
                                                       && int.Parse(m.Groups["count"].Value, CultureInfo.InvariantCulture) >= 1);

    private static bool IsMessage(JsonElement e, string text, string from) =>
        e.GetProperty("type").GetString() == "message"
        && e.GetProperty("text").GetString() == text
        && e.GetProperty("room").GetString() == Room
        && e.GetProperty("from").GetString() == from;

    [Fact(Timeout = 180_000)]
    public async Task Alice_and_bob_behind_two_nats_find_each_other_as_providers_of_the_room_and_a_public_node_shows_their_messages()
    {
        NatLab lab = await NatLab.CreateAsync(new NatLabOptions { JsNodes = 3 }, Ct);
        DirectoryInfo logs = Directory.CreateTempSubdirectory("echo-room-lab-");
        string aliceLog = Path.Combine(logs.FullName, "alice.log"), bobLog = Path.Combine(logs.FullName, "bob.log");
        try
        {
            string[] bootstrap = [.. lab.JsNodes.SelectMany(n => (string[])["--bootstrap", n.Address])];
            string[] args = ["--public-range", NatLab.InternetSubnet, "--room", Room, "--log-level", "debug", .. bootstrap];
            Task<EchoChatProcess> startAlice = lab.StartEchoAsync(lab.HomeA, "alice", [.. args, "--log-file", aliceLog], Ct);
            Task<EchoChatProcess> startBob = lab.StartEchoAsync(lab.HomeB, "bob", [.. args, "--log-file", bobLog], Ct);
            EchoChatProcess alice = await startAlice, bob = await startBob;
            Stopwatch clock = Stopwatch.StartNew();

            // Within 20 s each lookup returns the other with an address.
            await TestHosts.WaitUntilAsync(() => FoundWithAddress(aliceLog, bob.PeerId) && FoundWithAddress(bobLog, alice.PeerId),
                "each lookup returns the other with an address", TimeSpan.FromSeconds(20));
            Report("both ready to each found as a provider by the other", clock.Elapsed);

            // A public Echo node, DHT server, joins the room through the DHT alone and shows both sides' messages.
            LabHost publicHost = await lab.AddPublicHostAsync(Ct);
            EchoChatProcess carol = await lab.StartEchoAsync(publicHost, "carol",
                ["--public-range", NatLab.InternetSubnet, "--room", Room, "--dht-server", .. bootstrap], Ct);
            await Task.WhenAll(
                alice.NextAsync(e => e.GetProperty("type").GetString() == "peer" && e.GetProperty("peerId").GetString() == carol.PeerId,
                    TimeSpan.FromSeconds(60), Ct),
                bob.NextAsync(e => e.GetProperty("type").GetString() == "peer" && e.GetProperty("peerId").GetString() == carol.PeerId,
                    TimeSpan.FromSeconds(60), Ct));
            Report("both ready to both connected to the public node", clock.Elapsed);
            await alice.SendLineAsync("hello from alice");
            await bob.SendLineAsync("hello from bob");
            Task<Dictionary<string, JsonElement>> carolSees = carol.MessagesAsync(["hello from alice", "hello from bob"], Ct);
            await Task.WhenAll(carolSees,
                bob.NextAsync(e => IsMessage(e, "hello from alice", alice.PeerId), TimeSpan.FromSeconds(30), Ct),
                alice.NextAsync(e => IsMessage(e, "hello from bob", bob.PeerId), TimeSpan.FromSeconds(30), Ct));
            Assert.Equal(alice.PeerId, (await carolSees)["hello from alice"].GetProperty("from").GetString());
            Assert.Equal(bob.PeerId, (await carolSees)["hello from bob"].GetProperty("from").GetString());
            Report("both ready to the public node showing both messages", clock.Elapsed);
        }
        finally
        {
            await lab.DisposeAsync();
            logs.Delete(recursive: true);
        }
    }
}
