using System.Text.Json;

namespace Echo.SystemTests;

/// <summary>A real `echo-chat --headless` node restarted over its data directory: the rooms come back in their order, the current one current.</summary>
public sealed class RoomLayoutEndToEndTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private static Task<JsonElement> NoticeAsync(EchoChatProcess chat, string text) =>
        chat.NextAsync(e => e.GetProperty("type").GetString() == "notice" && e.GetProperty("text").GetString() == text, Wait, Ct);

    private static Task<JsonElement> EventAsync(EchoChatProcess chat, string type, string room) =>
        chat.NextAsync(e => e.GetProperty("type").GetString() == type && e.GetProperty("room").GetString() == room, Wait, Ct);

    [Fact(Timeout = 120_000)]
    public async Task Restart_KeepsTheRoomOrder_AMovedRoom_AndTheCurrentRoom()
    {
        string data = Directory.CreateTempSubdirectory("echo-room-layout-").FullName;
        try
        {
            await using (EchoChatProcess first = await EchoChatProcess.StartAsync("alice", [], Ct, dataDirectory: data))
            {
                await first.SendLineAsync("/join dev");
                await EventAsync(first, "joined", "dev");
                await first.SendLineAsync("/join ops");
                await EventAsync(first, "current", "ops");
                await first.SendLineAsync("/join #dev");   // joined already: only made current
                await EventAsync(first, "current", "dev");
                await first.SendLineAsync("/rooms");
                await NoticeAsync(first, "rooms: lobby, dev (current), ops");
                await first.SendLineAsync("/quit");
                Assert.Equal(0, await first.WaitForExitAsync(Wait, Ct));
            }

            await using (EchoChatProcess second = await EchoChatProcess.StartAsync("alice", [], Ct, dataDirectory: data))
            {
                await second.SendLineAsync("/rooms");
                await NoticeAsync(second, "rooms: lobby, dev (current), ops");   // the default room did not move to the end
                await second.SendLineAsync("/move ops 1");
                JsonElement moved = await second.NextAsync(e => e.GetProperty("type").GetString() == "rooms", Wait, Ct);
                Assert.Equal(["ops", "lobby", "dev"], moved.GetProperty("rooms").EnumerateArray().Select(r => r.GetString()));
                await second.SendLineAsync("/move #lobby 9");
                await second.SendLineAsync("/rooms");
                await NoticeAsync(second, "rooms: ops, dev (current), lobby");
                await second.SendLineAsync("/quit");
                Assert.Equal(0, await second.WaitForExitAsync(Wait, Ct));
            }

            await using EchoChatProcess third = await EchoChatProcess.StartAsync("alice", [], Ct, dataDirectory: data);
            await third.SendLineAsync("/rooms");
            await NoticeAsync(third, "rooms: ops, dev (current), lobby");
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }
}
