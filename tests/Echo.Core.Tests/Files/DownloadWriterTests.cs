using System.Security.Cryptography;
using Echo.Core.Direct;
using Echo.Core.Files;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Core.Tests.Files;

/// <summary>The disk side of a download without a network: resume, verification, the size bound, links.</summary>
public sealed class DownloadWriterTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("echo-writer-test-");
    private readonly DownloadFolder _folder;

    public DownloadWriterTests()
    {
        _folder = new DownloadFolder(Path.Combine(_temp.FullName, "downloads"), NullLogger.Instance);
        _folder.Prepare();
    }

    public void Dispose() => _temp.Delete(recursive: true);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static byte[] Content(int size, int seed = 1)
    {
        byte[] bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static FileOffer OfferOf(string name, byte[] content) =>
        new(DirectIds.New(), name, content.Length, Convert.ToHexStringLower(SHA256.HashData(content)));

    /// <summary>Everything in the downloads folder except the partial folder.</summary>
    private string[] Finished() =>
        [.. Directory.EnumerateFileSystemEntries(_folder.Root).Where(p => Path.GetFileName(p) != DownloadFolder.PartialFolder)];

    private static Task ReceiveAsync(DownloadWriter writer, Stream source) => writer.ReceiveAsync(source, () => { }, _ => { }, Ct);

    [Theory(Timeout = 20_000)]
    [InlineData(0)]
    [InlineData(1000)]
    [InlineData(DownloadWriter.BufferSize + 7)]
    public async Task Open_PartialFile_ResumesFromItsLength_AndVerifiesTheWholeFile(int kept)
    {
        byte[] content = Content(2 * DownloadWriter.BufferSize + 12_345);
        FileOffer offer = OfferOf("data.bin", content);
        string partial = _folder.PartialPath(offer.Id);
        await File.WriteAllBytesAsync(partial, content[..kept], Ct);

        string saved;
        using (DownloadWriter writer = DownloadWriter.Open(partial, offer))
        {
            Assert.Equal(kept, writer.Length);
            MemoryStream rest = new(content[kept..]);
            await ReceiveAsync(writer, rest);
            Assert.True(writer.IsComplete);
            saved = writer.CompleteInto(_folder);
        }

        Assert.Equal(Path.Combine(_folder.Root, "data.bin"), saved);
        Assert.Equal(content, await File.ReadAllBytesAsync(saved, Ct));
        Assert.False(File.Exists(partial));
    }

    [Theory(Timeout = 20_000)]
    [InlineData(10)]                  // in the prefix a previous attempt left
    [InlineData(400_000)]             // in the bytes this attempt received
    public async Task CompleteInto_HashMismatch_IsRejected_AndNothingIsUnderTheFinalName(int corruptAt)
    {
        byte[] content = Content(500_000);
        FileOffer offer = OfferOf("data.bin", content);
        byte[] corrupt = (byte[])content.Clone();
        corrupt[corruptAt] ^= 0xff;
        string partial = _folder.PartialPath(offer.Id);
        await File.WriteAllBytesAsync(partial, corrupt[..100_000], Ct);

        using (DownloadWriter writer = DownloadWriter.Open(partial, offer))
        {
            await ReceiveAsync(writer, new MemoryStream(corrupt[100_000..]));
            Assert.True(writer.IsComplete);
            FileSharingException e = Assert.Throws<FileSharingException>(() => writer.CompleteInto(_folder));
            Assert.Contains("SHA-256 mismatch", e.Message);
        }

        Assert.Empty(Finished());
        Assert.False(File.Exists(Path.Combine(_folder.Root, "data.bin")));
        Assert.Equal(content.Length, new FileInfo(partial).Length);   // left for the caller to delete, never under the final name
    }

    [Fact(Timeout = 20_000)]
    public async Task Open_PartialLongerThanTheOffer_StartsOver()
    {
        byte[] content = Content(10_000);
        FileOffer offer = OfferOf("data.bin", content);
        string partial = _folder.PartialPath(offer.Id);
        await File.WriteAllBytesAsync(partial, Content(20_000, seed: 2), Ct);

        using DownloadWriter writer = DownloadWriter.Open(partial, offer);

        Assert.Equal(0, writer.Length);
        Assert.Equal(0, new FileInfo(partial).Length);
        await ReceiveAsync(writer, new MemoryStream(content));
        Assert.Equal(content, await File.ReadAllBytesAsync(writer.CompleteInto(_folder), Ct));
    }

    [Fact(Timeout = 20_000)]
    public async Task ReceiveAsync_SourceEndsEarly_KeepsWhatArrived_AndCannotComplete()
    {
        byte[] content = Content(DownloadWriter.BufferSize + 50_000);
        FileOffer offer = OfferOf("data.bin", content);
        string partial = _folder.PartialPath(offer.Id);
        int arrived = DownloadWriter.BufferSize + 10;
        List<long> stored = [];

        using (DownloadWriter writer = DownloadWriter.Open(partial, offer))
        {
            await writer.ReceiveAsync(new MemoryStream(content[..arrived]), () => { }, stored.Add, Ct);

            Assert.False(writer.IsComplete);
            Assert.Equal(arrived, writer.Length);
            Assert.Throws<InvalidOperationException>(() => writer.CompleteInto(_folder));
        }

        Assert.Equal(content[..arrived], await File.ReadAllBytesAsync(partial, Ct));
        Assert.Equal([0L, DownloadWriter.BufferSize], stored);   // what was safely on disk as each chunk arrived
        Assert.Empty(Finished());
    }

    [Fact(Timeout = 20_000)]
    public async Task ReceiveAsync_SourceWithMoreThanOffered_ReadsAndWritesNoByteBeyondTheSize()
    {
        byte[] content = Content(70_000);
        FileOffer offer = OfferOf("data.bin", content);
        MemoryStream source = new([.. content, .. Content(5_000, seed: 3)]);

        using DownloadWriter writer = DownloadWriter.Open(_folder.PartialPath(offer.Id), offer);
        await ReceiveAsync(writer, source);

        Assert.Equal(content.Length, source.Position);
        Assert.Equal(content.Length, new FileInfo(_folder.PartialPath(offer.Id)).Length);
        Assert.Equal(content, await File.ReadAllBytesAsync(writer.CompleteInto(_folder), Ct));
    }

    [Fact(Timeout = 20_000)]
    public async Task CompleteInto_TakenName_PutsTheFileUnderAFreeOne_AndLeavesTheOtherAlone()
    {
        byte[] content = Content(1_000);
        FileOffer offer = OfferOf("notes.txt", content);
        string existing = Path.Combine(_folder.Root, "notes.txt");
        await File.WriteAllTextAsync(existing, "mine", Ct);

        using DownloadWriter writer = DownloadWriter.Open(_folder.PartialPath(offer.Id), offer);
        await ReceiveAsync(writer, new MemoryStream(content));
        string saved = writer.CompleteInto(_folder);

        Assert.Equal(Path.Combine(_folder.Root, "notes (1).txt"), saved);
        Assert.Equal("mine", await File.ReadAllTextAsync(existing, Ct));
        Assert.Equal(content, await File.ReadAllBytesAsync(saved, Ct));
    }

    [Fact]
    public void Open_PartialFileIsALink_IsRefused_AndItsTargetUntouched()
    {
        FileOffer offer = OfferOf("data.bin", Content(100));
        string target = Path.Combine(_temp.FullName, "elsewhere");
        File.WriteAllText(target, "keep");
        File.CreateSymbolicLink(_folder.PartialPath(offer.Id), target);

        Assert.Throws<FileSharingException>(() => DownloadWriter.Open(_folder.PartialPath(offer.Id), offer));

        Assert.Equal("keep", File.ReadAllText(target));
    }
}
