using Echo.Core.Conversations;

namespace Echo.Core.Tests.Conversations;

public class ConversationIdTests
{
    private const string Bob = "12D3KooWBob111111111111111111111111111111111111111";

    [Fact]
    public void ARoomAndAPeer_AreKeyedApart_AndTheKeyReadsBack()
    {
        ConversationId room = ConversationId.Room("lobby");
        ConversationId direct = ConversationId.Direct(Bob);

        Assert.Equal(("#lobby", "lobby", null), (room.Key, room.RoomName, room.PeerId));
        Assert.Equal(("@" + Bob, null, Bob), (direct.Key, direct.RoomName, direct.PeerId));
        Assert.Equal(room, ConversationId.TryParse(room.Key));
        Assert.Equal(direct, ConversationId.TryParse(direct.Key));
        Assert.NotEqual(ConversationId.Room(Bob), ConversationId.Direct(Bob));
        Assert.Equal(ConversationId.Room("lobby"), room);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("#")]
    [InlineData("@")]
    [InlineData("lobby")]
    [InlineData("r:lobby")]
    public void WhatIsNoKey_ReadsAsNull(string? key) => Assert.Null(ConversationId.TryParse(key));
}
