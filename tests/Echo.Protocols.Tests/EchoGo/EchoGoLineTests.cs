using System.IO.Pipelines;
using System.Text;
using Echo.Net;
using Echo.Protocols.EchoGo;

namespace Echo.Protocols.Tests.EchoGo;

public sealed class EchoGoLineTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("alice|hello", "alice", "hello")]
    [InlineData("alice|a|b", "alice", "a|b")]
    [InlineData("|text", "", "text")]
    [InlineData("bob|", "bob", "")]
    [InlineData("no bar here", null, "no bar here")]
    [InlineData("carol|windows\r", "carol", "windows")]
    public void Parse_SplitsAtTheFirstBar(string line, string? username, string text) =>
        Assert.Equal((username, text), EchoGoLine.Parse(line));

    [Fact]
    public void Format_IsNickBarTextNewline_AndKeepsOneLine()
    {
        Assert.Equal("alice|hi ✓\n", Encoding.UTF8.GetString(EchoGoLine.Format("alice", "hi ✓")));
        Assert.Equal("alice|a b c\n", Encoding.UTF8.GetString(EchoGoLine.Format("alice", "a\r\nb\nc")));
    }

    private static async Task<List<string>> ReadAllAsync(Pipe pipe)
    {
        List<string> lines = [];
        while (await EchoGoLineReader.ReadLineAsync(pipe.Reader, Ct) is { } line)
            lines.Add(line);
        return lines;
    }

    [Fact]
    public async Task Reader_JoinsLinesSplitAcrossWrites_AndKeepsAFinalUnterminatedLine()
    {
        Pipe pipe = new();
        Task<List<string>> reading = ReadAllAsync(pipe);
        byte[] accent = Encoding.UTF8.GetBytes("é");
        // The last two writes split one two-byte character.
        foreach (byte[] part in (byte[][])["al"u8.ToArray(), "ice|one\nbob|t"u8.ToArray(), "wo\n\n"u8.ToArray(), accent[..1],
                     [accent[1], .. "|last"u8]])
        {
            await pipe.Writer.WriteAsync(part, Ct);
            await pipe.Writer.FlushAsync(Ct);
        }
        await pipe.Writer.CompleteAsync();
        Assert.Equal(["alice|one", "bob|two", "", "é|last"], await reading);
    }

    [Fact]
    public async Task Reader_AcceptsALineAtTheLimit()
    {
        Pipe pipe = new(new PipeOptions(pauseWriterThreshold: 0));
        byte[] line = new byte[EchoGoLine.MaxLineBytes + 1];
        line.AsSpan().Fill((byte)'a');
        line[^1] = (byte)'\n';
        await pipe.Writer.WriteAsync(line, Ct);
        await pipe.Writer.CompleteAsync();
        Assert.Equal(EchoGoLine.MaxLineBytes, (await EchoGoLineReader.ReadLineAsync(pipe.Reader, Ct))!.Length);
    }

    [Fact]
    public async Task Reader_RefusesALineOverTheLimit_BeforeItsNewlineArrives()
    {
        Pipe pipe = new(new PipeOptions(pauseWriterThreshold: 0));
        Task<string?> reading = EchoGoLineReader.ReadLineAsync(pipe.Reader, Ct).AsTask();
        byte[] chunk = new byte[16 * 1024];
        chunk.AsSpan().Fill((byte)'a');
        for (int i = 0; i < 4; i++)
        {
            await pipe.Writer.WriteAsync(chunk, Ct);
            Assert.False(reading.IsCompleted);
        }
        await pipe.Writer.WriteAsync("b"u8.ToArray(), Ct);   // one byte over, and still no newline
        OversizedMessageException e = await Assert.ThrowsAsync<OversizedMessageException>(() => reading.WaitAsync(TimeSpan.FromSeconds(10), Ct));
        Assert.Equal(EchoGoLine.MaxLineBytes, e.Limit);
    }
}
