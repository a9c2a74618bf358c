using System.Globalization;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Protocols.Peers;

namespace Echo.Protocols.Tests.Peers;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PeerBookTests : IDisposable
{
    private static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-06-01T12:00:00Z", CultureInfo.InvariantCulture);
    private readonly string _directory = Directory.CreateTempSubdirectory("echo-peerbook-test-").FullName;

    private string BookFile => Path.Combine(_directory, "peers.json");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static PeerId NewPeer() => KeyPair.Generate().PeerId;

    [Fact]
    public void Addresses_DialedNewestFirst_ThenReported_UndialableDropped()
    {
        PeerBook book = PeerBook.InMemory();
        PeerId peer = NewPeer();
        book.Seen(peer, Now, Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001").WithPeerId(peer));
        book.Seen(peer, Now, Multiaddr.Parse("/ip4/127.0.0.1/tcp/4002"));
        book.Reported(peer, [Multiaddr.Parse("/ip4/0.0.0.0/tcp/4003"), Multiaddr.Parse("/ip4/10.0.0.1/tcp/0"),
            Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001"), Multiaddr.Parse("/ip4/192.0.2.1/tcp/4004")]);

        Assert.Equal(["/ip4/127.0.0.1/tcp/4002", "/ip4/127.0.0.1/tcp/4001", "/ip4/192.0.2.1/tcp/4004"],
            book.Addresses(peer).Select(a => a.ToString()));
        Assert.Empty(book.Addresses(NewPeer()));
    }

    [Fact]
    public void Reported_ForAPeerNeverConnected_IsIgnored()
    {
        PeerBook book = PeerBook.InMemory();
        PeerId peer = NewPeer();
        book.Reported(peer, [Multiaddr.Parse("/ip4/192.0.2.1/tcp/4004")]);
        Assert.False(book.Contains(peer));
        Assert.Equal(0, book.Count);
    }

    [Fact]
    public async Task Save_ThenOpen_KeepsPeersAndAddresses_InAnOwnerOnlyFile()
    {
        PeerBook book = PeerBook.Open(BookFile, out string? problem);
        Assert.Null(problem);
        PeerId peer = NewPeer();
        book.Seen(peer, Now, Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001"));
        book.Reported(peer, [Multiaddr.Parse("/ip6/::1/tcp/4001")]);
        await book.SaveAsync(TestContext.Current.CancellationToken);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(BookFile));
        Assert.False(File.Exists(BookFile + ".tmp"));
        PeerBook reopened = PeerBook.Open(BookFile, out problem);
        Assert.Null(problem);
        Assert.Equal(Now, reopened.LastSeen(peer));
        Assert.Equal(["/ip4/127.0.0.1/tcp/4001", "/ip6/::1/tcp/4001"], reopened.Addresses(peer).Select(a => a.ToString()));
    }

    [Fact]
    public async Task Save_ThenOpen_KeepsTheAnnouncedNick_OfRememberedPeersOnly()
    {
        PeerBook book = PeerBook.Open(BookFile, out _);
        PeerId alice = NewPeer();
        PeerId carol = NewPeer();
        book.Seen(alice, Now);
        book.Seen(carol, Now);
        Assert.True(book.Announced(alice, "alice"));
        Assert.False(book.Announced(alice, "alice"));
        Assert.False(book.Announced(carol, "two words"));
        Assert.False(book.Announced(NewPeer(), "stranger"));
        await book.SaveAsync(TestContext.Current.CancellationToken);

        PeerBook reopened = PeerBook.Open(BookFile, out string? problem);
        Assert.Null(problem);
        Assert.Equal("alice", reopened.Nick(alice));
        Assert.Null(reopened.Nick(carol));
        Assert.True(reopened.Announced(alice, "alicia"));
        Assert.Equal("alicia", reopened.Nick(alice));
    }

    [Fact]
    public void Open_AnOlderFileWithoutNicks_KeepsItsPeers()
    {
        PeerId peer = NewPeer();
        File.WriteAllText(BookFile, $$"""
            {"version":1,"peers":[{"id":"{{peer}}","lastSeen":"2026-06-01T12:00:00.000Z","dialed":["/ip4/127.0.0.1/tcp/4001"],"reported":[]}]}
            """);

        PeerBook book = PeerBook.Open(BookFile, out string? problem);

        Assert.Null(problem);
        Assert.Equal(Now, book.LastSeen(peer));
        Assert.Null(book.Nick(peer));
        Assert.Equal(["/ip4/127.0.0.1/tcp/4001"], book.Addresses(peer).Select(a => a.ToString()));
    }

    [Theory]
    [InlineData("\"two words\"")]
    [InlineData("\"\"")]
    [InlineData("\"a|b\"")]
    [InlineData("\"bell\\u0007\"")]
    [InlineData("42")]
    [InlineData("null")]
    public void Open_ABadNickInTheFile_IsIgnored_ThePeerKept(string nick)
    {
        PeerId peer = NewPeer();
        PeerId other = NewPeer();
        string tooLong = new('x', Echo.Core.Chat.ChatLimits.MaxNickLength + 1);
        File.WriteAllText(BookFile, $$"""
            {"version":1,"peers":[
              {"id":"{{peer}}","lastSeen":"2026-06-01T12:00:00.000Z","nick":{{nick}}},
              {"id":"{{other}}","lastSeen":"2026-06-01T12:00:00.000Z","nick":"{{tooLong}}"}]}
            """);

        PeerBook book = PeerBook.Open(BookFile, out string? problem);

        Assert.Null(problem);
        Assert.Equal(Now, book.LastSeen(peer));
        Assert.Null(book.Nick(peer));
        Assert.Null(book.Nick(other));
    }

    [Fact]
    public async Task Open_AFileOthersCanRead_MakesItOwnerOnly()
    {
        PeerBook book = PeerBook.Open(BookFile, out _);
        book.Seen(NewPeer(), Now);
        await book.SaveAsync(TestContext.Current.CancellationToken);
        File.SetUnixFileMode(BookFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        PeerBook.Open(BookFile, out string? problem);

        Assert.Null(problem);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(BookFile));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{\"version\":99,\"peers\":[]}")]
    [InlineData("{\"peers\":{}}")]
    public void Open_AFileThatIsNoBook_StartsEmptyAndSaysWhy(string content)
    {
        File.WriteAllText(BookFile, content);
        PeerBook book = PeerBook.Open(BookFile, out string? problem);
        Assert.Equal(0, book.Count);
        Assert.NotNull(problem);
        Assert.Contains(BookFile, problem);
    }

    [Fact]
    public void Expire_ForgetsPeersUnseenForThirtyDays_ButNotConnectedOnes()
    {
        PeerBook book = PeerBook.InMemory();
        PeerId recent = NewPeer(), old = NewPeer(), oldButConnected = NewPeer();
        book.Seen(recent, Now - TimeSpan.FromDays(29));
        book.Seen(old, Now - TimeSpan.FromDays(31));
        book.Seen(oldButConnected, Now - TimeSpan.FromDays(45));

        IReadOnlyList<PeerId> expired = book.Expire(Now - TimeSpan.FromDays(30), peer => peer == oldButConnected);

        Assert.Equal([old], expired);
        Assert.True(book.Contains(recent));
        Assert.False(book.Contains(old));
        Assert.True(book.Contains(oldButConnected));
    }

    [Fact]
    public void Forget_RemovesThePeerOnce()
    {
        PeerBook book = PeerBook.InMemory();
        PeerId peer = NewPeer();
        book.Seen(peer, Now, Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001"));
        Assert.True(book.Forget(peer));
        Assert.False(book.Forget(peer));
        Assert.Empty(book.Addresses(peer));
    }

    [Fact]
    public void ABookIsBounded_TheLongestUnseenGoFirst()
    {
        PeerBook book = PeerBook.InMemory();
        PeerId oldest = NewPeer();
        book.Seen(oldest, Now - TimeSpan.FromDays(10));
        for (int i = 0; i < PeerBook.MaxPeers; i++)
            book.Seen(NewPeer(), Now - TimeSpan.FromMinutes(i));
        Assert.Equal(PeerBook.MaxPeers, book.Count);
        Assert.False(book.Contains(oldest));
    }

    [Fact]
    public async Task Open_ReadsAFileOfMaxFileBytes_ButNotOneByteMore()
    {
        PeerBook book = PeerBook.Open(BookFile, out _);
        PeerId peer = NewPeer();
        book.Seen(peer, Now, Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001"));
        await book.SaveAsync(TestContext.Current.CancellationToken);
        long saved = new FileInfo(BookFile).Length;
        await File.AppendAllTextAsync(BookFile, new string(' ', (int)(PeerBook.MaxFileBytes - saved)), TestContext.Current.CancellationToken);
        Assert.Equal(PeerBook.MaxFileBytes, new FileInfo(BookFile).Length);

        PeerBook atLimit = PeerBook.Open(BookFile, out string? problem);
        Assert.Null(problem);
        Assert.True(atLimit.Contains(peer));

        await File.AppendAllTextAsync(BookFile, " ", TestContext.Current.CancellationToken);
        PeerBook overLimit = PeerBook.Open(BookFile, out problem);
        Assert.NotNull(problem);
        Assert.Contains("more than a peer book can be", problem, StringComparison.Ordinal);
        Assert.Equal(0, overLimit.Count);
    }
}
