using Echo.Core.Conversations;
using Echo.Core.Ports;

namespace Echo.Core.Tests.Conversations;

/// <summary>One conversation's lines: ordered (late history in its place), each message once, bounded.</summary>
public class ConversationLogTests
{
    private static HistoryCursor At(int second, string id) => new(second * 1000L, id);

    private static int Add(ConversationLog<string> log, int second, string id) => log.Append(id, id, At(second, id));

    [Fact]
    public void Append_KeepsArrivalOrder_AndSaysWhereEachWent()
    {
        ConversationLog<string> log = new(10);
        Assert.Equal(0, Add(log, 5, "a"));
        Assert.Equal(1, Add(log, 1, "b"));   // live: shown as it arrives, even when its author's clock is behind
        Assert.Equal(["a", "b"], log.Items);
        Assert.Equal("a", log.IdAt(0));
    }

    [Fact]
    public void Insert_PutsALateOrSyncedMessage_AfterEveryLineThatIsNotNewer()
    {
        ConversationLog<string> log = new(10);
        Add(log, 1, "one");
        Add(log, 3, "three");
        Add(log, 5, "five");

        Assert.Equal(2, log.Insert("four", "four", At(4, "four")));
        Assert.Equal(0, log.Insert("zero", "zero", At(0, "zero")));
        Assert.Equal(5, log.Insert("six", "six", At(6, "six")));
        Assert.Equal(["zero", "one", "three", "four", "five", "six"], log.Items);
        Assert.Equal(At(0, "zero"), log.Oldest);
    }

    [Fact]
    public void Insert_OrdersTheSameMillisecondById()
    {
        ConversationLog<string> log = new(10);
        Add(log, 1, "b");
        log.Insert("a", "a", At(1, "a"));
        log.Insert("c", "c", At(1, "c"));
        Assert.Equal(["a", "b", "c"], log.Items);
    }

    [Fact]
    public void AMessageAlreadyThere_IsLeftOut_WhetherLiveOrSynced()
    {
        ConversationLog<string> log = new(10);
        Add(log, 1, "a");
        Assert.Equal(-1, Add(log, 1, "a"));
        Assert.Equal(-1, log.Insert("a again", "a", At(1, "a")));
        Assert.Equal(0, log.Prepend([("a older", "a", At(0, "a"))]));
        Assert.Equal(["a"], log.Items);
        Assert.True(log.Contains("a"));
    }

    [Fact]
    public void OverCapacity_TheOldestLinesGo_AndSoDoTheirIds()
    {
        ConversationLog<string> log = new(3);
        for (int i = 1; i <= 4; i++)
            Add(log, i, $"m{i}");
        Assert.Equal(["m2", "m3", "m4"], log.Items);
        Assert.Equal(At(2, "m2"), log.Oldest);
        Assert.True(log.Contains("m2"));
        Assert.False(log.Contains("m1"));   // the memory of ids is as bounded as the lines
        for (int i = 5; i <= 100; i++)
            Add(log, i, $"m{i}");
        Assert.Equal(["m98", "m99", "m100"], log.Items);
    }

    [Fact]
    public void AnInsertOlderThanEverythingInAFullLog_FallsOffTheStartAtOnce()
    {
        ConversationLog<string> log = new(2);
        Add(log, 5, "a");
        Add(log, 6, "b");
        Assert.Equal(-1, log.Insert("old", "old", At(1, "old")));
        Assert.Equal(["a", "b"], log.Items);
    }

    [Fact]
    public void ATrimChunk_DropsThatManyLinesAtOnce()
    {
        ConversationLog<string> log = new(10, trimChunk: 4);
        for (int i = 1; i <= 11; i++)
            Add(log, i, $"m{i}");
        Assert.Equal(7, log.Count);
        Assert.Equal("m5", log.Items[0]);
    }

    [Fact]
    public void ANote_TakesThePlaceOfTheLineBeforeIt_SoHistoryGoesAfterIt()
    {
        ConversationLog<string> log = new(10);
        log.AppendNote("joined");   // before any message: at the start of time
        Add(log, 2, "two");
        log.AppendNote("note after two");
        Add(log, 5, "five");

        log.Insert("three", "three", At(3, "three"));
        log.Insert("one", "one", At(1, "one"));

        Assert.Equal(["joined", "one", "two", "note after two", "three", "five"], log.Items);
        Assert.Null(log.IdAt(0));
    }

    [Fact]
    public void Prepend_PutsOlderMessagesFirst_AndMayExceedTheCapacityUntilTheNextAppend()
    {
        ConversationLog<string> log = new(3);
        Add(log, 10, "ten");
        Add(log, 11, "eleven");
        Assert.Equal(2, log.Prepend([("eight", "eight", At(8, "eight")), ("nine", "nine", At(9, "nine"))]));
        Assert.Equal(["eight", "nine", "ten", "eleven"], log.Items);
        Assert.Equal(At(8, "eight"), log.Oldest);
        Add(log, 12, "twelve");   // trimmed one chunk at a time, so what was just loaded stays a while
        Assert.Equal(["nine", "ten", "eleven", "twelve"], log.Items);
    }

    [Fact]
    public void Prepend_KeepsNotesBetweenTheOlderMessages_AndCountsOnlyMessages()
    {
        ConversationLog<string> log = new(10);
        Add(log, 10, "ten");
        Assert.Equal(2, log.Prepend([("eight", "eight", At(8, "eight")), ("day", null, At(8, "eight")),
            ("nine", "nine", At(9, "nine")), ("day 2", null, At(9, "nine"))]));
        Assert.Equal(["eight", "day", "nine", "day 2", "ten"], log.Items);
        Assert.Null(log.IdAt(1));
        Assert.Equal(At(8, "eight"), log.Oldest);
        log.Insert("eight and a half", "8.5", At(8, "zz"));   // history goes after the note that follows its elder
        Assert.Equal(["eight", "day", "eight and a half", "nine", "day 2", "ten"], log.Items);
    }

    [Fact]
    public void Replace_ChangesTheLineOfAMessage_AndClearKeepsTheIds()
    {
        ConversationLog<string> log = new(10);
        Add(log, 1, "a");
        Assert.True(log.Replace("a", "a, delivered"));
        Assert.False(log.Replace("b", "b"));
        Assert.Equal(["a, delivered"], log.Items);
        log.Clear();
        Assert.Empty(log.Items);
        Assert.Null(log.Oldest);
        Assert.Equal(-1, Add(log, 1, "a"));
    }
}
