using System.IO.Pipelines;
using System.Text;
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
            lines.Add(line.Text);
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
        EchoGoReadLine read = (await EchoGoLineReader.ReadLineAsync(pipe.Reader, Ct))!.Value;
        Assert.Equal((EchoGoLine.MaxLineBytes, EchoGoLine.MaxLineBytes, false), (read.Text.Length, read.Length, read.Cut));
    }

    /// <summary>
    /// A line over the limit is consumed from the pipe as it arrives (nothing beyond the limit is held),
    /// returned cut on a character boundary once its newline comes, and the next line is read normally.
    /// </summary>
    [Fact]
    public async Task Reader_CutsALineOverTheLimit_DiscardingTheRestUpToItsNewline()
    {
        Pipe pipe = new(new PipeOptions(pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024));
        Task<EchoGoReadLine?> reading = EchoGoLineReader.ReadLineAsync(pipe.Reader, Ct).AsTask();
        byte[] chunk = Encoding.UTF8.GetBytes(new string('é', 8 * 1024));   // 16 KiB of two-byte characters
        await pipe.Writer.WriteAsync("x"u8.ToArray(), Ct);                  // so the limit falls inside a character
        for (int i = 0; i < 64; i++)                                        // 1 MiB: the writer would stall if it were held
        {
            await pipe.Writer.WriteAsync(chunk, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
            Assert.False(reading.IsCompleted);
        }
        await pipe.Writer.WriteAsync("\nnext|line\n"u8.ToArray(), Ct);
        await pipe.Writer.CompleteAsync();
        EchoGoReadLine read = (await reading.WaitAsync(TimeSpan.FromSeconds(10), Ct))!.Value;
        Assert.True(read.Cut);
        Assert.Equal(1 + 64L * chunk.Length, read.Length);
        Assert.Equal("x" + new string('é', (EchoGoLine.MaxLineBytes - 2) / 2), read.Text);
        Assert.Equal("next|line", (await EchoGoLineReader.ReadLineAsync(pipe.Reader, Ct))?.Text);
        Assert.Null(await EchoGoLineReader.ReadLineAsync(pipe.Reader, Ct));
    }

    [Theory]
    [InlineData(4096, false, false)]
    [InlineData(4097, false, true)]
    [InlineData(10, true, true)]
    public void ForDisplay_KeepsTextThatFits_CutsTheRestWithAMarker(int bytes, bool cut, bool marked)
    {
        string text = new('a', bytes);
        string shown = EchoGoLine.ForDisplay(text, cut);
        Assert.Equal(marked, shown.EndsWith(EchoGoLine.TruncatedMarker, StringComparison.Ordinal));
        Assert.True(Encoding.UTF8.GetByteCount(shown) <= Echo.Core.Chat.ChatLimits.MaxTextBytes);
        if (!marked)
            Assert.Same(text, shown);
    }

    [Fact]
    public void ForDisplay_CutsOnACharacterBoundary()
    {
        string shown = EchoGoLine.ForDisplay("a" + new string('€', 3000), cut: false);   // 1 + 9000 bytes
        string kept = shown[..^EchoGoLine.TruncatedMarker.Length];
        Assert.Equal("a" + new string('€', kept.Length - 1), kept);
        Assert.InRange(Encoding.UTF8.GetByteCount(shown), Echo.Core.Chat.ChatLimits.MaxTextBytes - 2, Echo.Core.Chat.ChatLimits.MaxTextBytes);
    }
}
