using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Echo.TestKit.Lab;

namespace Echo.SystemTests;

/// <summary>
/// DCUtR in the NAT lab: alice behind router A and bob behind router B meet through the js relay and
/// hole punch a direct connection through both NATs. What Echo did is read from its log (<c>--log-file</c>).
/// </summary>
[Collection(NetworkNamespaceCollection.Name)]
public sealed class DcutrLabTests
{
    private const int Port = 4001;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void Report(string what, TimeSpan elapsed) =>
        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what}: {elapsed.TotalMilliseconds:0} ms"));


    private static async Task WaitForLogAsync(string log, string text, TimeSpan timeout) =>
        await TestHosts.WaitUntilAsync(() => LabWait.ReadLog(log).Contains(text, StringComparison.Ordinal), $"\"{text}\" in {Path.GetFileName(log)}", timeout);

    private static string[] Args(string log, string bootstrap) =>
        ["--public-range", NatLab.InternetSubnet, "--log-file", log, "--bootstrap", bootstrap];

    [Fact(Timeout = 120_000)]
    public async Task Alice_and_bob_behind_two_nats_hole_punch_their_relayed_connection_into_a_direct_one()
    {
        NatLab lab = await NatLab.CreateAsync(new NatLabOptions { JsNodes = 1 }, Ct);
        DirectoryInfo logs = Directory.CreateTempSubdirectory("echo-dcutr-lab-");
        try
        {
            LabJsNode relay = lab.JsNodes[0];
            string aliceLog = Path.Combine(logs.FullName, "alice.log"), bobLog = Path.Combine(logs.FullName, "bob.log");
            EchoChatProcess alice = await lab.StartEchoAsync(lab.HomeA, "alice", [.. Args(aliceLog, relay.Address), "--reserve-relays"], Ct, Port);
            string circuit = $"/ip4/{relay.Host.Address}/tcp/{LabJsNode.Port}/p2p/{relay.PeerId}/p2p-circuit";
            await WaitForLogAsync(aliceLog, $"Relay reservation on {relay.PeerId}", TimeSpan.FromSeconds(30));
            EchoChatProcess bob = await lab.StartEchoAsync(lab.HomeB, "bob", Args(bobLog, relay.Address), Ct, Port);

            Stopwatch clock = Stopwatch.StartNew();
            await bob.SendLineAsync($"/connect {circuit}/p2p/{alice.PeerId}");
            await bob.NextAsync(e => e.GetProperty("type").GetString() == "notice"
                                     && e.GetProperty("text").GetString()!.StartsWith($"connected to {alice.PeerId}", StringComparison.Ordinal),
                TimeSpan.FromSeconds(30), Ct);
            await WaitForLogAsync(aliceLog, $"Relayed connection from {bob.PeerId} through {relay.PeerId}", TimeSpan.FromSeconds(10));
            Report("bob's /connect to a relayed connection", clock.Elapsed);

            // Each side ends with a direct connection to the other's router (its NAT mapping).
            await WaitForLogAsync(aliceLog, $"DCUtR: hole punched to {bob.PeerId} at /ip4/{lab.RouterB.WanAddress}/tcp/", TimeSpan.FromSeconds(30));
            await WaitForLogAsync(bobLog, $"DCUtR: hole punched to {alice.PeerId} at /ip4/{lab.RouterA.WanAddress}/tcp/", TimeSpan.FromSeconds(10));
            Report("bob's /connect to a hole-punched connection", clock.Elapsed);
            Assert.DoesNotContain("no direct connection to", LabWait.ReadLog(aliceLog), StringComparison.Ordinal);
        }
        finally
        {
            await lab.DisposeAsync();
            logs.Delete(recursive: true);
        }
    }
}
