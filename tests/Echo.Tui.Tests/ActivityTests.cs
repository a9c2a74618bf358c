using Echo.Tui.Activity;

namespace Echo.Tui.Tests;

public sealed class ActivityTests
{
    [Theory]
    [InlineData("alice: hi", true)]
    [InlineData("hi Alice!", true)]
    [InlineData("@ALICE look", true)]
    [InlineData("(alice)", true)]
    [InlineData("malice aforethought", false)]
    [InlineData("alice_bot says", false)]
    [InlineData("alice-2 is here", false)]
    [InlineData("alicé", false)]
    [InlineData("alic", false)]
    [InlineData("", false)]
    public void A_mention_is_the_nick_as_a_whole_word_in_any_case(string text, bool mentions) =>
        Assert.Equal(mentions, Mentions.Contains(text, "alice"));

    [Fact]
    public void Find_gives_every_mention_to_highlight()
    {
        Assert.Equal([(0, 5), (14, 5)], Mentions.Find("alice, malice alice", "alice"));
        Assert.Empty(Mentions.Find("anything", ""));
    }

    [Fact]
    public void Unseen_lines_count_per_conversation_and_the_highest_level_wins()
    {
        ActivityTracker activity = new();
        Assert.Equal(ActivityLevel.Message, activity.Add("ops", shown: false, isMessage: true, direct: false, mention: false));
        Assert.Equal(ActivityLevel.Mention, activity.Add("ops", shown: false, isMessage: true, direct: false, mention: true));
        activity.Add("ops", shown: false, isMessage: true, direct: false, mention: false);
        Assert.Equal(new ConversationActivity(3, 1, ActivityLevel.Mention), activity.Unseen["ops"]);

        Assert.Equal(ActivityLevel.Direct, activity.Add("@bob", shown: false, isMessage: true, direct: true, mention: false));
        Assert.Equal(ActivityLevel.Notice, activity.Add("dev", shown: false, isMessage: false, direct: false, mention: false));
        Assert.Equal(new ConversationActivity(0, 0, ActivityLevel.Notice), activity.Unseen["dev"]);

        // One mention and one DM unseen: the title counts both.
        Assert.Equal(2, activity.Important);
        Assert.Equal("[2] echo: #lobby", activity.Title("#lobby"));
        activity.Seen("ops");
        activity.Seen("@bob");
        Assert.Equal("echo: #lobby", activity.Title("#lobby"));
    }

    [Fact]
    public void Lines_in_the_conversation_on_screen_are_seen_at_once_but_still_ring()
    {
        ActivityTracker activity = new();
        Assert.Equal(ActivityLevel.Mention, activity.Add("lobby", shown: true, isMessage: true, direct: false, mention: true));
        Assert.Empty(activity.Unseen);
    }
}
