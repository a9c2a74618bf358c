using Echo.TestKit.Lab;

namespace Echo.SystemTests;

/// <summary>
/// Two NATed users who know only a room name chat and end on a hole-punched connection, through the
/// headless face (<see cref="NatChatFlow"/>): reservations on the js relay with its limits, the first
/// messages within 60 s, both <c>via: direct</c> at the other router's WAN address within 90 s, the
/// relayed connection gone, every message before, during and after the upgrade shown once.
/// </summary>
[Collection(NetworkNamespaceCollection.Name)]
public sealed class NatRoomChatLabTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 150_000)]
    public async Task Alice_and_bob_behind_two_nats_meet_through_the_dht_chat_over_the_relay_and_end_direct()
    {
        NatLab lab = await NatLab.CreateAsync(new NatLabOptions { JsNodes = 3 }, Ct);
        DirectoryInfo logs = Directory.CreateTempSubdirectory("echo-nat-chat-lab-");
        try
        {
            NatChatTimings timings = await NatChatFlow.RunAsync(lab, "natroom", logs.FullName, Ct,
                line => TestContext.Current.TestOutputHelper?.WriteLine(line));
            Assert.InRange(timings.FirstMessage, TimeSpan.Zero, TimeSpan.FromSeconds(60));
            Assert.InRange(timings.FirstMessage + timings.FirstMessageToDirect, TimeSpan.Zero, TimeSpan.FromSeconds(90));
        }
        finally
        {
            await lab.DisposeAsync();
            logs.Delete(recursive: true);
        }
    }
}
