using System.Security.Cryptography;
using Echo.Core.Direct;
using Echo.Core.Files;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Core.Tests.Files;

/// <summary>The downloads folder on disk: free names, links, atomic writes, the records of unfinished downloads.</summary>
public sealed class DownloadFolderTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("echo-folder-test-");
    private readonly DownloadFolder _folder;

    public DownloadFolderTests()
    {
        _folder = new DownloadFolder(Path.Combine(_temp.FullName, "downloads"), NullLogger.Instance);
        _folder.Prepare();
    }

    public void Dispose() => _temp.Delete(recursive: true);

    private string Partial(string content)
    {
        string path = _folder.PartialPath(DirectIds.New());
        File.WriteAllText(path, content);
        return path;
    }

    private static FileOffer OfferOf(string name, byte[] content) =>
        new(DirectIds.New(), name, content.Length, Convert.ToHexStringLower(SHA256.HashData(content)));

    [Fact]
    public void MoveToFreeName_TakenNames_PicksTheNextFree_AndReplacesNothing()
    {
        File.WriteAllText(Path.Combine(_folder.Root, "a.txt"), "first");
        File.WriteAllText(Path.Combine(_folder.Root, "a (1).txt"), "second");
        Directory.CreateDirectory(Path.Combine(_folder.Root, "a (2).txt"));
        string partial = Partial("new");

        string moved = _folder.MoveToFreeName(partial, "a.txt");

        Assert.Equal(Path.Combine(_folder.Root, "a (3).txt"), moved);
        Assert.Equal("new", File.ReadAllText(moved));
        Assert.False(File.Exists(partial));
        Assert.Equal("first", File.ReadAllText(Path.Combine(_folder.Root, "a.txt")));
        Assert.Equal("second", File.ReadAllText(Path.Combine(_folder.Root, "a (1).txt")));
    }

    [Fact]
    public void MoveToFreeName_LinksUnderTheName_AreSkipped_AndTheirTargetsUntouched()
    {
        string target = Path.Combine(_temp.FullName, "target.txt");
        File.WriteAllText(target, "keep");
        File.CreateSymbolicLink(Path.Combine(_folder.Root, "a.txt"), target);
        File.CreateSymbolicLink(Path.Combine(_folder.Root, "a (1).txt"), Path.Combine(_temp.FullName, "missing.txt"));   // dangling

        string moved = _folder.MoveToFreeName(Partial("new"), "a.txt");

        Assert.Equal(Path.Combine(_folder.Root, "a (2).txt"), moved);
        Assert.Equal("keep", File.ReadAllText(target));
        Assert.False(File.Exists(Path.Combine(_temp.FullName, "missing.txt")));
    }

    [Fact]
    public void WriteAtomically_ReplacesTheWholeFile_ReadableByTheOwnerOnly_AndLeavesNoTemporaryFile()
    {
        string path = Path.Combine(_temp.FullName, "offers.json");
        File.WriteAllText(path, "an old and much longer content");

        DownloadFolder.WriteAtomically(path, "new"u8.ToArray());

        Assert.Equal("new", File.ReadAllText(path));
        Assert.False(File.Exists(path + ".tmp"));
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }

    [Fact]
    public void WriteAtomically_TemporaryFileACrashLeft_IsNotReusedWithItsMode()
    {
        if (OperatingSystem.IsWindows())
            return;
        string path = Path.Combine(_temp.FullName, "offers.json");
        File.WriteAllText(path + ".tmp", "half a list from a crash, and longer than the new one");
        File.SetUnixFileMode(path + ".tmp", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        DownloadFolder.WriteAtomically(path, "[]"u8.ToArray());

        Assert.Equal("[]", File.ReadAllText(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void WriteAtomically_WhenTheWriteFails_TheOldContentStaysWhole()
    {
        string path = Path.Combine(_temp.FullName, "offers.json");
        File.WriteAllText(path, "old");
        Directory.CreateDirectory(path + ".tmp");   // the temporary file cannot be created

        Exception e = Assert.ThrowsAny<Exception>(() => DownloadFolder.WriteAtomically(path, "new"u8.ToArray()));
        Assert.True(e is IOException or UnauthorizedAccessException, e.ToString());

        Assert.Equal("old", File.ReadAllText(path));
    }

    [Fact]
    public void Prepare_PartialFolderIsALink_IsRefused_AndNothingIsWrittenThrough()
    {
        DownloadFolder folder = new(Path.Combine(_temp.FullName, "other"), NullLogger.Instance);
        string target = Directory.CreateDirectory(Path.Combine(_temp.FullName, "elsewhere")).FullName;
        Directory.CreateDirectory(folder.Root);
        Directory.CreateSymbolicLink(folder.PartialDirectory, target);

        Assert.Throws<FileSharingException>(folder.Prepare);
        Assert.Empty(folder.Pending());

        Assert.Empty(Directory.EnumerateFileSystemEntries(target));
    }

    [Fact]
    public void Pending_ReturnsTheRecordedDownloads_AndSkipsUnreadableOrMisnamedRecords()
    {
        byte[] content = [1, 2, 3];
        PendingDownload kept = new(OfferOf("a.bin", content), "peer", "bob", Paused: true);
        _folder.Record(kept);
        File.WriteAllText(_folder.RecordPath(DirectIds.New()), "{ not json");
        PendingDownload other = new(OfferOf("b.bin", content), "peer", "bob");
        _folder.Record(other);
        File.Move(_folder.RecordPath(other.Offer.Id), _folder.RecordPath(DirectIds.New()));   // names another offer than it holds

        PendingDownload found = Assert.Single(_folder.Pending());

        Assert.Equal(kept, found);
    }

    [Fact]
    public void Forget_RemovesTheRecord_AndThePartialFileOnlyWhenAsked()
    {
        PendingDownload pending = new(OfferOf("a.bin", [1]), "peer", "bob");
        _folder.Record(pending);
        File.WriteAllText(_folder.PartialPath(pending.Offer.Id), "x");

        _folder.Forget(pending.Offer.Id, deletePartial: false);
        Assert.False(File.Exists(_folder.RecordPath(pending.Offer.Id)));
        Assert.Equal(1, _folder.PartialLength(pending.Offer.Id));

        _folder.Forget(pending.Offer.Id, deletePartial: true);
        Assert.Equal(0, _folder.PartialLength(pending.Offer.Id));
    }
}
