using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Echo.Core.Files;

/// <summary>
/// The downloads folder on disk: verified files under free, sanitized names, and the hidden
/// <c>.echo-partial</c> folder where each unfinished download keeps <c>&lt;id&gt;.part</c> next to
/// <c>&lt;id&gt;.json</c>, the record of its offer. Never writes through a symbolic link and never
/// replaces an existing file.
/// </summary>
internal sealed class DownloadFolder
{
    /// <summary>The name of the folder, inside the downloads folder, that holds unfinished downloads.</summary>
    public const string PartialFolder = ".echo-partial";

    private readonly ILogger _logger;

    /// <param name="directory">The downloads folder; made a full path.</param>
    /// <param name="logger">Where a record that cannot be read or deleted is reported.</param>
    public DownloadFolder(string directory, ILogger logger)
    {
        Root = Path.GetFullPath(directory);
        PartialDirectory = Path.Combine(Root, PartialFolder);
        _logger = logger;
    }

    /// <summary>The downloads folder as a full path.</summary>
    public string Root { get; }

    /// <summary>The folder of unfinished downloads.</summary>
    public string PartialDirectory { get; }

    /// <summary>Where the bytes of download <paramref name="id"/> wait until they are verified.</summary>
    public string PartialPath(string id) => Path.Combine(PartialDirectory, id + ".part");

    /// <summary>Where the record of download <paramref name="id"/> is kept.</summary>
    public string RecordPath(string id) => Path.Combine(PartialDirectory, id + ".json");

    /// <summary>Creates the downloads and partial folders; refuses a partial folder that is a link (it could point anywhere).</summary>
    /// <exception cref="FileSharingException">The partial folder is a link.</exception>
    public void Prepare()
    {
        Directory.CreateDirectory(Root);
        if (IsLink(PartialDirectory))
            throw new FileSharingException($"{PartialDirectory} is a symbolic link; refusing to write through it");
        Directory.CreateDirectory(PartialDirectory);
    }

    /// <summary>The bytes free on the drive of the downloads folder.</summary>
    public long FreeSpace() => new DriveInfo(Root).AvailableFreeSpace;

    /// <summary>How much of download <paramref name="id"/> is on disk already (0 when nothing is).</summary>
    public long PartialLength(string id)
    {
        string partial = PartialPath(id);
        return File.Exists(partial) ? new FileInfo(partial).Length : 0;
    }

    /// <summary>
    /// The downloads a previous run left unfinished, as recorded; a record that cannot be read, or
    /// that names another offer than its file name, is skipped.
    /// </summary>
    public List<PendingDownload> Pending()
    {
        List<PendingDownload> found = [];
        if (!Directory.Exists(PartialDirectory) || IsLink(PartialDirectory))
            return found;
        foreach (string record in Directory.EnumerateFiles(PartialDirectory, "*.json"))
        {
            PendingDownload? pending;
            try
            {
                pending = JsonSerializer.Deserialize(File.ReadAllBytes(record), FileStateJson.Default.PendingDownload);
            }
            catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
            {
                Log.FileStateUnreadable(_logger, record, e.Message);
                continue;
            }
            if (pending is null || pending.Offer.Problem() is not null || Path.GetFileNameWithoutExtension(record) != pending.Offer.Id)
                continue;
            found.Add(pending);
        }
        return found;
    }

    /// <summary>Records <paramref name="pending"/> next to its partial file, so that it survives a restart.</summary>
    public void Record(PendingDownload pending) =>
        WriteAtomically(RecordPath(pending.Offer.Id), JsonSerializer.SerializeToUtf8Bytes(pending, FileStateJson.Default.PendingDownload));

    /// <summary>Removes the record of download <paramref name="id"/>, and its partial file too when <paramref name="deletePartial"/>.</summary>
    public void Forget(string id, bool deletePartial)
    {
        TryDelete(RecordPath(id));
        if (deletePartial)
            TryDelete(PartialPath(id));
    }

    /// <summary>
    /// Moves <paramref name="partialPath"/> to the first free name for <paramref name="safeName"/> in
    /// the downloads folder and returns it; never replaces an existing file, folder or link.
    /// </summary>
    /// <exception cref="FileSharingException">No free name is left.</exception>
    public string MoveToFreeName(string partialPath, string safeName)
    {
        for (int attempt = 0; attempt < 10_000; attempt++)
        {
            string candidate = SafeFileName.FreePath(Root, safeName, attempt);
            if (Taken(candidate))
                continue;
            try
            {
                File.Move(partialPath, candidate, overwrite: false);
                return candidate;
            }
            catch (IOException) when (Taken(candidate))
            {
                // taken between the check and the move: try the next name
            }
        }
        throw new FileSharingException($"no free name for {safeName} in {Root}");
    }

    /// <summary>True for a symbolic link (or other reparse point), even one whose target is missing.</summary>
    public static bool IsLink(string path)
    {
        try
        {
            FileSystemInfo info = new FileInfo(path);
            if (!info.Exists)
                info = new DirectoryInfo(path);
            return info.LinkTarget is not null || (info.Exists && info.Attributes.HasFlag(FileAttributes.ReparsePoint))
                   || (!info.Exists && File.ResolveLinkTarget(path, false) is not null);
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// Writes <paramref name="bytes"/> to a temporary file readable by the owner only (0600) and
    /// moves it over <paramref name="path"/>: a reader sees the old content or the new, never a part.
    /// </summary>
    public static void WriteAtomically(string path, byte[] bytes)
    {
        string temp = path + ".tmp";
        // The offer list names local files: readable by the owner only (0600), like the history.
        FileStreamOptions create = new() { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        File.Delete(temp); // one a crash left behind keeps its own mode
        using (FileStream file = new(temp, create))
            file.Write(bytes);
        File.Move(temp, path, overwrite: true);
    }

    private static bool Taken(string path) => File.Exists(path) || Directory.Exists(path) || IsLink(path);

    private void TryDelete(string path)
    {
        try
        {
            if (File.Exists(path) || IsLink(path))
                File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.FileStateUnreadable(_logger, path, e.Message);
        }
    }
}
