using System.Text;

namespace Echo.Web.Tests;

/// <summary>Every frame a page sends is read by <see cref="WebRequest.Parse"/>: each type, and each way a frame can be wrong.</summary>
public sealed class WebRequestTests
{
    private static WebRequest Parse(string json) => WebRequest.Parse(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void Parse_EachType_GivesItsRequest()
    {
        (string Json, WebRequest Expected)[] table =
        [
            ("""{"type":"line","text":"/join x"}""", new WebRequest.Line("/join x")),
            ("""{"type":"send","text":"/not a command"}""", new WebRequest.Send("/not a command")),
            ("""{"type":"join","room":"x"}""", new WebRequest.Join("x")),
            ("""{"type":"leave","room":"x"}""", new WebRequest.Leave("x")),
            ("""{"type":"leave"}""", new WebRequest.Leave(null)),
            ("""{"type":"switch","room":"x"}""", new WebRequest.Switch("x")),
            ("""{"type":"nick","nick":"alice"}""", new WebRequest.Nick("alice")),
            ("""{"type":"connect","address":"/ip4/127.0.0.1/tcp/4001"}""", new WebRequest.Connect("/ip4/127.0.0.1/tcp/4001")),
            ("""{"type":"dm","to":"bob","text":"hi"}""", new WebRequest.Direct("bob", "hi")),
            ("""{"type":"get","id":"abc"}""", new WebRequest.Get("abc")),
            ("""{"type":"cancel","id":"abc"}""", new WebRequest.Cancel("abc")),
            ("""{"type":"older","room":"x","ts":"2026-01-02T03:04:05.678Z","id":"m1"}""",
                new WebRequest.Older("x", new DateTimeOffset(2026, 1, 2, 3, 4, 5, 678, TimeSpan.Zero), "m1")),
            ("""{"text":"first","type":"line","extra":1}""", new WebRequest.Line("first")),
        ];

        foreach ((string json, WebRequest expected) in table)
            Assert.Equal(expected, Parse(json));
    }

    [Fact]
    public void Parse_OlderWithoutOffset_IsUtc()
    {
        WebRequest.Older older = Assert.IsType<WebRequest.Older>(Parse("""{"type":"older","room":"x","ts":"2026-01-02T03:04:05","id":"m1"}"""));
        Assert.Equal(TimeSpan.Zero, older.Before.Offset);
        Assert.Equal(new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Unspecified), older.Before.DateTime);
    }

    [Theory]
    [InlineData("not json", "a request must be JSON")]
    [InlineData("", "a request must be JSON")]
    [InlineData("""{"type":"line","text":"a","x":[[[[1]]]]}""", "a request must be JSON")]
    [InlineData("""["line"]""", "a request is a JSON object")]
    [InlineData("\"line\"", "a request is a JSON object")]
    [InlineData("{}", "the request has no type")]
    [InlineData("""{"type":1}""", "'type' must be a string")]
    [InlineData("""{"type":"fly"}""", "unknown request type 'fly'")]
    [InlineData("""{"type":"join"}""", "the request has no 'room'")]
    [InlineData("""{"type":"join","room":null}""", "'room' must be a string")]
    [InlineData("""{"type":"dm","to":"bob"}""", "the request has no 'text'")]
    [InlineData("""{"type":"older","room":"x","ts":"yesterday","id":"m1"}""", "'ts' must be an ISO 8601 time")]
    public void Parse_BadFrame_ThrowsFormatExceptionSayingWhy(string json, string reason)
    {
        FormatException e = Assert.Throws<FormatException>(() => Parse(json));
        Assert.StartsWith(reason, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnknownTypeWithControlCharacters_IsNamedEscaped()
    {
        FormatException e = Assert.Throws<FormatException>(() => Parse("""{"type":"\u001b[2Jx"}"""));
        Assert.StartsWith("unknown request type", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', e.Message);
    }
}
