using Terminal.Gui.Input;

namespace Echo.Tui.Tests;

public sealed class RoomMoveTests
{
    private const int Timeout = 30_000;

    /// <summary>The row of <paramref name="room"/> in the room list ("1 #ops" for the current room, "2  lobby" for others).</summary>
    private static int RowOf(TuiHarness tui, string room) =>
        tui.Window.Rooms.Rows.ToList().FindIndex(r => r.Split(' ', StringSplitOptions.RemoveEmptyEntries).Any(word => word.TrimStart('#') == room));

    [Fact(Timeout = Timeout)]
    public async Task Move_puts_the_room_at_its_new_place_in_the_list_and_alt_number_follows()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync();
        await tui.SubmitAsync("/join dev");
        await tui.SubmitAsync("/join ops");
        await tui.WaitUntilAsync(w => w.CurrentRoom == "ops", "ops is the current room");
        Assert.True(RowOf(tui, "lobby") >= 0 && RowOf(tui, "lobby") < RowOf(tui, "ops"));

        await tui.SubmitAsync("/move 1");
        await tui.WaitUntilAsync(_ => RowOf(tui, "ops") >= 0 && RowOf(tui, "ops") < RowOf(tui, "lobby"), "ops is listed first");
        Assert.Equal(["ops", "lobby", "dev"], tui.Manager.Rooms);

        await tui.PressAsync(Key.D2.WithAlt);
        await tui.WaitUntilAsync(w => w.CurrentRoom == "lobby", "Alt+2 is lobby now");
    }
}
