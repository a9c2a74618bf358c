using Echo.Net.Identity;

namespace Echo.Net.Tests.Identity;

public sealed class KeyFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("echo-keyfile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void LoadOrCreate_TwiceOnTheSamePath_KeepsThePeerIdAndOwnerOnlyMode()
    {
        string path = Path.Combine(_dir, "sub", "identity.key");
        using KeyPair first = KeyFile.LoadOrCreate(path);
        using KeyPair second = KeyFile.LoadOrCreate(path);
        Assert.Equal(first.PeerId, second.PeerId);
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.tmp-*"));
    }

    [Fact]
    public void Load_GarbageFile_ThrowsInvalidDataNamingThePath()
    {
        string path = Path.Combine(_dir, "identity.key");
        File.WriteAllBytes(path, [1, 2, 3]);
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => KeyFile.LoadOrCreate(path));
        Assert.Contains(path, e.Message);
    }
}
