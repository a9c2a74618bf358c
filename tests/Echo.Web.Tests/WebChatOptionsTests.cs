using System.Net;

namespace Echo.Web.Tests;

public sealed class WebChatOptionsTests
{
    [Theory]
    [InlineData("127.0.0.1:8080", "127.0.0.1:8080")]
    [InlineData("8080", "127.0.0.1:8080")]
    [InlineData("0", "127.0.0.1:0")]
    [InlineData("localhost:9000", "127.0.0.1:9000")]
    [InlineData("localhost", "127.0.0.1:0")]
    [InlineData("[::1]:8080", "[::1]:8080")]
    [InlineData("0.0.0.0:80", "0.0.0.0:80")]
    [InlineData("127.0.0.1", "127.0.0.1:0")]
    public void ParseEndPoint_TakesTheUsualForms(string text, string expected) =>
        Assert.Equal(expected, WebChatOptions.Format(WebChatOptions.ParseEndPoint(text)));

    [Theory]
    [InlineData("")]
    [InlineData("example.com:80")]
    [InlineData("/ip4/127.0.0.1/tcp/80")]
    [InlineData("127.0.0.1:99999")]
    [InlineData("70000")]
    [InlineData("1.2")]
    [InlineData("localhost:x")]
    public void ParseEndPoint_RefusesTheRest(string text) =>
        Assert.Throws<FormatException>(() => WebChatOptions.ParseEndPoint(text));

    [Fact]
    public void TheDefault_IsLoopbackAnyPort()
    {
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 0), new WebChatOptions().EndPoint);
        Assert.False(new WebChatOptions().AllowRemote);
    }
}
