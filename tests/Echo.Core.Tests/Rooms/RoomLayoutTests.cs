using Echo.Core.Events;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Core.Tests.Rooms;

/// <summary>The rooms' order and the current room, kept across restarts (one store, one chat after another) and changed with /move.</summary>
public sealed class RoomLayoutTests : IAsyncDisposable
{
    private readonly FakeMessageStore _store = new();
    private ChatManager? _manager;
    private ChatSubscription? _events;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A chat over the one store, as after a restart: the previous chat is stopped first (its saves finished).</summary>
    private async Task<ChatManager> StartAsync()
    {
        if (_manager is not null)
            await _manager.DisposeAsync();
        _manager = new ChatManager(new FakeChatNetwork(), new ChatOptions { Nick = "me" }, NullLogger<ChatManager>.Instance, _store);
        _events = _manager.Subscribe();
        await _manager.StartAsync(Ct);
        return _manager;
    }

    public async ValueTask DisposeAsync()
    {
        if (_manager is not null)
            await _manager.DisposeAsync();
    }

    [Fact(Timeout = 10_000)]
    public async Task Restart_KeepsTheJoinedOrder_AndTheCurrentRoom()
    {
        ChatManager first = await StartAsync();
        await first.JoinAsync("dev", Ct);
        await first.JoinAsync("ops", Ct);
        first.SwitchRoom("dev");
        Assert.Equal(["lobby", "dev", "ops"], first.Rooms);

        ChatManager second = await StartAsync();
        Assert.Equal(["lobby", "dev", "ops"], second.Rooms);   // the default room stays first, where it was
        Assert.Equal("dev", second.CurrentRoom);
        Assert.Equal("dev", (await _events!.NextAsync<CurrentRoomChangedEvent>()).Room);
    }

    [Fact(Timeout = 10_000)]
    public async Task Restart_PutsTheDefaultRoomInItsSavedPlace_OrLastWhenItWasLeft()
    {
        await _store.SaveRoomsAsync(["dev", "lobby", "ops"], "ops", Ct);
        ChatManager manager = await StartAsync();
        Assert.Equal(["dev", "lobby", "ops"], manager.Rooms);
        Assert.Equal("ops", manager.CurrentRoom);

        await manager.LeaveAsync("lobby", Ct);
        Assert.Equal(["dev", "ops"], await _store.LoadRoomsAsync(Ct));
        manager = await StartAsync();
        Assert.Equal(["dev", "ops", "lobby"], manager.Rooms);
        Assert.Equal("ops", manager.CurrentRoom);
    }

    [Fact(Timeout = 10_000)]
    public async Task WithoutASavedCurrentRoom_TheDefaultRoomIsCurrent()
    {
        await _store.SaveRoomsAsync(["dev", "ops"], Ct);
        ChatManager manager = await StartAsync();
        Assert.Equal(["dev", "ops", "lobby"], manager.Rooms);
        Assert.Equal("lobby", manager.CurrentRoom);
        Assert.Equal("lobby", await _store.LoadCurrentRoomAsync(Ct));
    }

    [Fact(Timeout = 10_000)]
    public async Task Move_ReordersTheRooms_TellsTheViews_AndIsKeptAcrossARestart()
    {
        ChatManager manager = await StartAsync();
        await manager.JoinAsync("dev", Ct);
        await manager.JoinAsync("ops", Ct);

        await manager.SubmitAsync("/move #ops 1", Ct);
        Assert.Equal(["ops", "lobby", "dev"], (await _events!.NextAsync<RoomsReorderedEvent>()).Rooms);
        Assert.Equal(["ops", "lobby", "dev"], manager.Rooms);
        Assert.Equal(["ops", "lobby", "dev"], await _store.LoadRoomsAsync(Ct));

        manager.SwitchRoom("lobby");
        await manager.SubmitAsync("/move 9", Ct);   // past the end: the last place
        Assert.Equal(["ops", "dev", "lobby"], (await _events!.NextAsync<RoomsReorderedEvent>()).Rooms);

        manager = await StartAsync();
        Assert.Equal(["ops", "dev", "lobby"], manager.Rooms);
        Assert.Equal("lobby", manager.CurrentRoom);
    }

    [Fact(Timeout = 10_000)]
    public async Task Move_OfARoomNotJoined_IsAnError_AndChangesNothing()
    {
        ChatManager manager = await StartAsync();
        await manager.JoinAsync("dev", Ct);
        await manager.SubmitAsync("/move nowhere 1", Ct);
        Assert.Equal("you are not in nowhere", (await _events!.NextAsync<ErrorEvent>()).Message);
        Assert.Equal(["lobby", "dev"], manager.Rooms);
        Assert.Equal(["lobby", "dev"], await _store.LoadRoomsAsync(Ct));
    }
}
