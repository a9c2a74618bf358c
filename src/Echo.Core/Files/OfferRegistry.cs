using System.Security.Cryptography;
using System.Text.Json;
using Echo.Core.Direct;
using Microsoft.Extensions.Logging;

namespace Echo.Core.Files;

/// <summary>
/// The files we offered: served by id only, to the one peer they were offered to (or to anyone for
/// a room offer), and only while unchanged. Remembered in <c>offers.json</c> in the state folder, so
/// that a restarted sender still serves them; the oldest are withdrawn beyond
/// <see cref="FileSharingOptions.MaxOwnOffers"/>. Thread-safe.
/// </summary>
internal sealed class OfferRegistry
{
    private const string OffersFile = "offers.json";

    private readonly FileSharingOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, OfferedFile> _offered = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();
    private readonly SemaphoreSlim _saving = new(1, 1);

    public OfferRegistry(FileSharingOptions options, ILogger logger)
    {
        _options = options;
        _logger = logger;
    }

    /// <summary>Hashes the file at <paramref name="path"/> and makes it fetchable under a new id, by <paramref name="to"/> alone when set.</summary>
    /// <exception cref="FileSharingException">The file cannot be offered; the message says why.</exception>
    public async Task<FileOffer> OfferAsync(string path, string? to, CancellationToken cancellationToken)
    {
        string full = ExpandPath(path);
        FileInfo info = new(full);
        if (Directory.Exists(full))
            throw new FileSharingException($"{full} is a folder; only files can be sent");
        if (!info.Exists)
            throw new FileSharingException($"{full}: no such file");
        string sha256;
        DateTime lastWrite = info.LastWriteTimeUtc;
        long size;
        try
        {
            await using FileStream file = new(full, FileMode.Open, FileAccess.Read, FileShare.Read, DownloadWriter.BufferSize, FileOptions.Asynchronous);
            size = file.Length;
            sha256 = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken).ConfigureAwait(false));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FileSharingException($"cannot read {full}: {e.Message}", e);
        }
        FileOffer offer = new(DirectIds.New(), Path.GetFileName(full), size, sha256);
        lock (_gate)
        {
            _offered[offer.Id] = new OfferedFile(offer, full, lastWrite, to);
            _order.Enqueue(offer.Id);
            while (_offered.Count > _options.MaxOwnOffers && _order.TryDequeue(out string? oldest))
                _offered.Remove(oldest);
        }
        await SaveAsync(cancellationToken).ConfigureAwait(false);
        return offer;
    }

    /// <summary>What a fetch by <paramref name="peerId"/> of <paramref name="fileId"/> may read: only an unchanged file we offered to it.</summary>
    public OfferedFile? Lookup(string peerId, string fileId)
    {
        OfferedFile? offered;
        lock (_gate)
            offered = _offered.GetValueOrDefault(fileId);
        if (offered is null || (offered.To is not null && offered.To != peerId))
            return null;
        FileInfo now = new(offered.Path);
        if (!now.Exists || now.Length != offered.Offer.Size || now.LastWriteTimeUtc != offered.LastWriteUtc)
        {
            Log.OfferedFileChanged(_logger, offered.Path);
            return null;
        }
        return offered;
    }

    /// <summary>Loads the offers a previous run remembered; an unreadable list is logged and left alone.</summary>
    public void Load()
    {
        if (_options.StateDirectory is null)
            return;
        string path = Path.Combine(_options.StateDirectory, OffersFile);
        if (!File.Exists(path))
            return;
        try
        {
            List<OfferedFile>? offers = JsonSerializer.Deserialize(File.ReadAllBytes(path), FileStateJson.Default.ListOfferedFile);
            lock (_gate)
            {
                foreach (OfferedFile offered in offers ?? [])
                {
                    if (offered.Offer.Problem() is null && _offered.TryAdd(offered.Offer.Id, offered))
                        _order.Enqueue(offered.Offer.Id);
                }
            }
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            Log.FileStateUnreadable(_logger, path, e.Message);
        }
    }

    private async Task SaveAsync(CancellationToken cancellationToken)
    {
        if (_options.StateDirectory is null)
            return;
        await _saving.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            List<OfferedFile> offers;
            lock (_gate)
                offers = [.. _offered.Values];
            if (OperatingSystem.IsWindows())
                Directory.CreateDirectory(_options.StateDirectory);
            else
                Directory.CreateDirectory(_options.StateDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            DownloadFolder.WriteAtomically(Path.Combine(_options.StateDirectory, OffersFile),
                JsonSerializer.SerializeToUtf8Bytes(offers, FileStateJson.Default.ListOfferedFile));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FileSharingException($"cannot remember the offer: {e.Message}", e);
        }
        finally
        {
            _saving.Release();
        }
    }

    private static string ExpandPath(string path)
    {
        if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal))
            path = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) + path[1..];
        return Path.GetFullPath(path);
    }
}
