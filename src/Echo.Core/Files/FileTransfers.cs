using System.Security.Cryptography;
using System.Text.Json;
using Echo.Core.Chat;
using Echo.Core.Direct;
using Echo.Core.Events;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Echo.Core.Files;

/// <summary>
/// File sharing on one node: the files we offered (served by id only, remembered across restarts),
/// the offers we heard of, and the downloads the user asked for with /get.
/// </summary>
/// <remarks>
/// A download is written to <c>&lt;downloads&gt;/.echo-partial/&lt;id&gt;.part</c>, next to a small
/// JSON record of its offer, and resumes from the partial file's length after a broken connection
/// or a restart of either side. Only once the whole file matches the offered SHA-256 is it moved to
/// a free, sanitized name in the downloads folder; a file that does not match is deleted and never
/// shown as complete. No byte is ever written beyond the offered size.
/// </remarks>
internal sealed class FileTransfers : IAsyncDisposable
{
    private const string PartialFolder = ".echo-partial";
    private const string OffersFile = "offers.json";
    private const int BufferSize = 1024 * 1024;

    private readonly IDirectNetwork _network;
    private readonly FileSharingOptions _options;
    private readonly Action<ChatEvent> _publish;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, OfferedFile> _offered = new(StringComparer.Ordinal);
    // Offers peers made, by id, with the order they arrived in (for listing them).
    private readonly Dictionary<string, (FileOffer Offer, string PeerId, string Nick, string? Room, long Seq, DateTimeOffset Received)> _known = new(StringComparer.Ordinal);
    private long _knownSeq;
    private readonly Dictionary<string, string> _saved = new(StringComparer.Ordinal);
    private readonly Queue<string> _knownOrder = new();
    private readonly Queue<string> _offeredOrder = new();
    private readonly Dictionary<string, Download> _downloads = new(StringComparer.Ordinal);
    // Downloads that could not reach their peer, by peer: they go on when it connects.
    private readonly Dictionary<string, HashSet<string>> _waiting = new(StringComparer.Ordinal);
    private readonly PeerDialing _dialing;
    private readonly SemaphoreSlim _saving = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();

    /// <param name="dialing">Reaches a sender that is not connected; shared with direct messages.</param>
    public FileTransfers(IDirectNetwork network, FileSharingOptions options, Action<ChatEvent> publish, ILogger logger,
        PeerDialing dialing, TimeProvider? time = null)
    {
        options.Validate();
        _network = network;
        _dialing = dialing;
        _options = options;
        _publish = publish;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        DownloadsDirectory = Path.GetFullPath(options.DownloadsDirectory);
        _network.Offers = Lookup;
    }

    /// <summary>The downloads folder as a full path.</summary>
    public string DownloadsDirectory { get; }

    private string PartialDirectory => Path.Combine(DownloadsDirectory, PartialFolder);

    /// <summary>Loads our offers and resumes the downloads a previous run left unfinished.</summary>
    public void Start()
    {
        LoadOffers();
        if (!Directory.Exists(PartialDirectory) || IsLink(PartialDirectory))
            return;
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
            lock (_gate)
                _known[pending.Offer.Id] = (pending.Offer, pending.PeerId, pending.Nick, null, ++_knownSeq, _time.GetUtcNow());
            if (!pending.Paused)   // a cancelled or stalled one waits for /get
                StartDownload(pending);
        }
    }

    /// <summary>Hashes the file at <paramref name="path"/> and makes it fetchable under a new id.</summary>
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
            await using FileStream file = new(full, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.Asynchronous);
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
            _offeredOrder.Enqueue(offer.Id);
            while (_offered.Count > _options.MaxOwnOffers && _offeredOrder.TryDequeue(out string? oldest))
                _offered.Remove(oldest);
        }
        await SaveOffersAsync(cancellationToken).ConfigureAwait(false);
        return offer;
    }

    /// <summary>Remembers an offer a peer made so /get can fetch it; returns false for one already known or malformed.</summary>
    public bool OnOffer(FileOffer offer, string peerId, string nick, string? room)
    {
        if (offer.Problem() is { } problem)
        {
            Log.OfferIgnored(_logger, peerId, problem);
            return false;
        }
        lock (_gate)
        {
            if (_known.ContainsKey(offer.Id))
                return false;
            _known[offer.Id] = (offer, peerId, nick, room, ++_knownSeq, _time.GetUtcNow());
            _knownOrder.Enqueue(offer.Id);
            while (_known.Count > _options.MaxKnownOffers && _knownOrder.TryDequeue(out string? oldest))
            {
                if (!_downloads.ContainsKey(oldest))
                {
                    _known.Remove(oldest);
                    _saved.Remove(oldest);
                }
            }
        }
        return true;
    }

    /// <summary>Starts fetching offer <paramref name="idOrPrefix"/> (the whole id, or a unique prefix of at least 4 digits).</summary>
    public void Get(string idOrPrefix)
    {
        FileOffer offer;
        string peerId, nick;
        lock (_gate)
        {
            string[] matches = idOrPrefix.Length >= 4
                ? [.. _known.Keys.Where(k => k.StartsWith(idOrPrefix, StringComparison.OrdinalIgnoreCase))]
                : [];
            if (matches.Length != 1)
            {
                _publish(new FileErrorEvent(idOrPrefix, matches.Length == 0
                    ? $"no file offer {SafeText.ForDisplay(idOrPrefix)} is known"
                    : $"{SafeText.ForDisplay(idOrPrefix)} matches {matches.Length} offers; give more of the id"));
                return;
            }
            (offer, peerId, nick, _, _, _) = _known[matches[0]];
            if (_downloads.ContainsKey(offer.Id))
            {
                _publish(new NoticeEvent($"{SafeText.ForDisplay(offer.Name)} is already being downloaded"));
                return;
            }
        }
        if (offer.Size > _options.MaxFileSize)
        {
            _publish(new FileErrorEvent(offer.Id, $"refused: {offer.Size} bytes is over the {_options.MaxFileSize}-byte limit (--max-file-size)"));
            return;
        }
        try
        {
            PrepareDirectories();
            long free = new DriveInfo(DownloadsDirectory).AvailableFreeSpace;
            long partial = File.Exists(PartialPath(offer.Id)) ? new FileInfo(PartialPath(offer.Id)).Length : 0;
            if (free < offer.Size - partial)
            {
                _publish(new FileErrorEvent(offer.Id, $"refused: {offer.Size - partial} bytes needed, {free} free in {DownloadsDirectory}"));
                return;
            }
            PendingDownload pending = new(offer, peerId, nick);
            WriteAtomically(RecordPath(offer.Id), JsonSerializer.SerializeToUtf8Bytes(pending, FileStateJson.Default.PendingDownload));
            StartDownload(pending);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FileSharingException or ArgumentException)
        {
            _publish(new FileErrorEvent(offer.Id, e.Message));
        }
    }

    /// <summary>The offers peers made that are still remembered, oldest first.</summary>
    public IReadOnlyList<KnownFileOffer> KnownOffers()
    {
        lock (_gate)
        {
            return [.. _known.Values.OrderBy(k => k.Seq).Select(k => new KnownFileOffer(k.Offer, k.PeerId, k.Nick, k.Room, k.Received,
                _downloads.ContainsKey(k.Offer.Id), _saved.GetValueOrDefault(k.Offer.Id)))];
        }
    }

    /// <summary>A peer connected: downloads that could not reach it go on at once.</summary>
    public void OnPeerConnected(string peerId)
    {
        List<PendingDownload> resume = [];
        lock (_gate)
        {
            if (!_waiting.Remove(peerId, out HashSet<string>? ids))
                return;
            foreach (string id in ids)
            {
                if (_known.TryGetValue(id, out (FileOffer Offer, string PeerId, string Nick, string? Room, long Seq, DateTimeOffset Received) known))
                    resume.Add(new PendingDownload(known.Offer, known.PeerId, known.Nick));
            }
        }
        foreach (PendingDownload pending in resume)
            StartDownload(pending);
    }

    /// <summary>
    /// Stops download <paramref name="idOrPrefix"/> (the whole id, or a unique start of at least 4
    /// digits); its partial file stays, and /get resumes it from there.
    /// </summary>
    public void Cancel(string idOrPrefix)
    {
        PendingDownload? waiting = null;
        lock (_gate)
        {
            string[] candidates = [.. _downloads.Keys.Concat(_waiting.Values.SelectMany(ids => ids)).Distinct()];
            string[] matches = idOrPrefix.Length >= 4
                ? [.. candidates.Where(k => k.StartsWith(idOrPrefix, StringComparison.OrdinalIgnoreCase))]
                : [];
            if (matches.Length != 1)
            {
                _publish(new FileErrorEvent(idOrPrefix, matches.Length == 0
                    ? $"no download {SafeText.ForDisplay(idOrPrefix)} is running"
                    : $"{SafeText.ForDisplay(idOrPrefix)} matches {matches.Length} downloads; give more of the id"));
                return;
            }
            string id = matches[0];
            if (_downloads.TryGetValue(id, out Download? download))
            {
                download.Cancel.Cancel();   // the download says so once it has stopped
                return;
            }
            foreach ((string peerId, HashSet<string> ids) in _waiting)
            {
                if (ids.Remove(id) && _known.TryGetValue(id, out (FileOffer Offer, string PeerId, string Nick, string? Room, long Seq, DateTimeOffset Received) known))
                {
                    waiting = new PendingDownload(known.Offer, known.PeerId, known.Nick);
                    if (ids.Count == 0)
                        _waiting.Remove(peerId);
                    break;
                }
            }
        }
        if (waiting is not null)
            Stopped(waiting, "cancelled");
    }

    /// <summary>The addresses the newest offer of <paramref name="peerId"/> named (for a direct message to it).</summary>
    public IReadOnlyList<string> AddressesOf(string peerId)
    {
        lock (_gate)
        {
            return _known.Values.Where(k => k.PeerId == peerId && k.Offer.Addresses is { Count: > 0 }).OrderByDescending(k => k.Seq)
                .Select(k => k.Offer.Addresses!).FirstOrDefault() ?? [];
        }
    }

    /// <summary>What a fetch by <paramref name="peerId"/> of <paramref name="fileId"/> may read: only an unchanged file we offered to it.</summary>
    private OfferedFile? Lookup(string peerId, string fileId)
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

    private void StartDownload(PendingDownload pending)
    {
        lock (_gate)
        {
            if (_downloads.ContainsKey(pending.Offer.Id) || _stopping.IsCancellationRequested)
                return;
            if (_waiting.TryGetValue(pending.PeerId, out HashSet<string>? ids) && ids.Remove(pending.Offer.Id) && ids.Count == 0)
                _waiting.Remove(pending.PeerId);
            CancellationTokenSource cancel = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            _downloads[pending.Offer.Id] = new Download(Task.Run(() => RunDownloadAsync(pending, cancel)), cancel);
        }
    }

    /// <summary>
    /// Fetches until the file is complete, retrying a broken transfer from where it stopped. It ends
    /// with an error when the sender cannot be reached within the bound (and goes on when the sender
    /// connects), when nothing arrives for <see cref="FileSharingOptions.StallTimeout"/>, or when the
    /// user cancels it; the partial file stays in each case.
    /// </summary>
    private async Task RunDownloadAsync(PendingDownload pending, CancellationTokenSource cancel)
    {
        FileOffer offer = pending.Offer;
        CancellationToken cancellationToken = cancel.Token;
        int failures = 0;
        bool waitForPeer = false;
        using CancellationTokenSource stalled = new();
        using CancellationTokenSource attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stalled.Token);
        using ITimer watchdog = _time.CreateTimer(_ => stalled.Cancel(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        void Touch() => watchdog.Change(_options.StallTimeout, Timeout.InfiniteTimeSpan);
        // Armed when the peer is (re)connected and by every byte that arrives, not by a retry: attempts
        // that fail one after another without data end as a stall too.
        bool arm = true;
        try
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (!_network.IsConnected(pending.PeerId))
                {
                    arm = true;
                    watchdog.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);   // reaching the peer has its own bound
                    string? problem = await _dialing.ConnectAsync(pending.PeerId, pending.Nick, offer.Addresses ?? [], cancellationToken)
                        .ConfigureAwait(false);
                    if (problem is not null)
                    {
                        waitForPeer = true;
                        string nick = SafeText.ForDisplay(pending.Nick);
                        Log.TransferStopped(_logger, offer.Id, problem);
                        _publish(new FileErrorEvent(offer.Id, $"{SafeText.ForDisplay(offer.Name)}: cannot reach {nick}: {problem}; " +
                                                              $"the download goes on when {nick} connects, or /get {offer.Id} tries again"));
                        return;
                    }
                }
                if (arm)
                    Touch();
                arm = false;
                try
                {
                    string path = await TransferAsync(pending, Touch, attempt.Token).ConfigureAwait(false);
                    lock (_gate)
                        _saved[offer.Id] = path;
                    _publish(new FileDoneEvent(offer.Id, path, offer.Sha256));
                    return;
                }
                catch (Exception e) when (e is IOException or ChatNetworkException or TimeoutException
                                          && !attempt.IsCancellationRequested)
                {
                    failures++;
                    Log.TransferInterrupted(_logger, offer.Id, e.Message);
                }
                TimeSpan delay = _options.RetryDelay * Math.Min(1 << Math.Min(failures - 1, 3), 8);
                await Task.Delay(delay, _time, attempt.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is FileSharingException or UnauthorizedAccessException)
        {
            Forget(offer.Id, deletePartial: e is FileSharingException);
            _publish(new FileErrorEvent(offer.Id, e.Message));
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ChatNetworkException or TimeoutException
                                  && cancellationToken.IsCancellationRequested)
        {
            if (!_stopping.IsCancellationRequested)
                Stopped(pending, "cancelled");
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ChatNetworkException or TimeoutException
                                  && stalled.IsCancellationRequested)
        {
            Stopped(pending, $"no data for {_options.StallTimeout.TotalSeconds:0} s, dropped");
        }
        finally
        {
            lock (_gate)
            {
                _downloads.Remove(offer.Id);
                if (waitForPeer && !_stopping.IsCancellationRequested)
                {
                    if (!_waiting.TryGetValue(pending.PeerId, out HashSet<string>? ids))
                        _waiting[pending.PeerId] = ids = new HashSet<string>(StringComparer.Ordinal);
                    ids.Add(offer.Id);
                }
            }
            cancel.Dispose();
        }
        // The peer may have connected while the error was told: then go on now.
        if (waitForPeer && _network.IsConnected(pending.PeerId))
            OnPeerConnected(pending.PeerId);
    }

    /// <summary>A download stopped short of its end: it is kept paused (a restart leaves it), and the user is told how to resume it.</summary>
    private void Stopped(PendingDownload pending, string why)
    {
        FileOffer offer = pending.Offer;
        Log.TransferStopped(_logger, offer.Id, why);
        long kept = 0;
        try
        {
            string partial = PartialPath(offer.Id);
            kept = File.Exists(partial) ? new FileInfo(partial).Length : 0;
            WriteAtomically(RecordPath(offer.Id), JsonSerializer.SerializeToUtf8Bytes(pending with { Paused = true },
                FileStateJson.Default.PendingDownload));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.FileStateUnreadable(_logger, RecordPath(offer.Id), e.Message);
        }
        _publish(new FileErrorEvent(offer.Id, $"{SafeText.ForDisplay(offer.Name)}: {why} at {ChatManager.FormatSize(kept)} of " +
                                              $"{ChatManager.FormatSize(offer.Size)}; /get {offer.Id} resumes it"));
    }

    private sealed record Download(Task Task, CancellationTokenSource Cancel);

    /// <summary>
    /// One attempt: continues the partial file from its length, verifies and moves it. Throws
    /// <see cref="FileSharingException"/> for what retrying cannot fix, and IOException or
    /// <see cref="ChatNetworkException"/> for a broken transfer worth retrying.
    /// </summary>
    private async Task<string> TransferAsync(PendingDownload pending, Action progress, CancellationToken cancellationToken)
    {
        FileOffer offer = pending.Offer;
        PrepareDirectories();
        string partialPath = PartialPath(offer.Id);
        if (IsLink(partialPath))
            throw new FileSharingException($"{partialPath} is a symbolic link; refusing to write through it");
        using IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        // Plain (synchronous) file calls: the page cache makes them memory copies, cheaper than a
        // thread-pool hop per chunk.
        using (SafeFileHandle file = File.OpenHandle(partialPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            long offset = RandomAccess.GetLength(file);
            if (offset > offer.Size)
            {
                RandomAccess.SetLength(file, 0);
                offset = 0;
            }
            byte[] buffer = new byte[BufferSize];
            // The prefix already on disk counts towards the hash; the whole file is verified, not only the new part.
            for (long hashed = 0; hashed < offset;)
            {
                int n = RandomAccess.Read(file, buffer.AsSpan(0, (int)Math.Min(buffer.Length, offset - hashed)), hashed);
                if (n == 0)
                    throw new IOException($"{partialPath} shrank while it was read");
                hash.AppendData(buffer, 0, n);
                hashed += n;
            }
            if (offset < offer.Size)
                await ReceiveAsync(pending, file, hash, offset, buffer, progress, cancellationToken).ConfigureAwait(false);
            string actual = Convert.ToHexStringLower(hash.GetHashAndReset());
            if (actual != offer.Sha256)
                throw new FileSharingException($"{SafeText.ForDisplay(offer.Name)}: SHA-256 mismatch (got {actual}); the download was discarded");
        }
        string final = MoveToFreeName(partialPath, SafeFileName.Sanitize(offer.Name));
        Forget(offer.Id, deletePartial: false);
        return final;
    }

    private async Task ReceiveAsync(PendingDownload pending, SafeFileHandle file, IncrementalHash hash, long offset, byte[] buffer,
        Action progress, CancellationToken cancellationToken)
    {
        FileOffer offer = pending.Offer;
        (Stream bytes, long size) = await _network.OpenFileAsync(pending.PeerId, offer.Id, offset, cancellationToken).ConfigureAwait(false);
        await using (bytes.ConfigureAwait(false))
        {
            if (size != offer.Size)
                throw new FileSharingException($"{SafeText.ForDisplay(offer.Name)}: the sender now says {size} bytes, not the {offer.Size} offered");
            Log.TransferStarted(_logger, offer.Id, pending.PeerId, offset);
            if (offset > 0)
                _publish(new FileResumedEvent(offer.Id, offer.Name, offset, offer.Size));
            long start = _time.GetTimestamp();
            long startOffset = offset;
            long lastReport = 0;
            long written = offset;
            // Two buffers: while one is hashed and written on the thread pool, the next is read
            // from the network, so the disk and the hash do not hold up the sender's window.
            byte[][] buffers = [buffer, new byte[buffer.Length]];
            Task stored = Task.CompletedTask;
            try
            {
                for (int turn = 0; offset < offer.Size; turn ^= 1)
                {
                    byte[] chunk = buffers[turn];
                    int n = await FillAsync(bytes, chunk.AsMemory(0, (int)Math.Min(chunk.Length, offer.Size - offset)), progress,
                        cancellationToken).ConfigureAwait(false);
                    await stored.ConfigureAwait(false);
                    written = offset;
                    if (n == 0)
                    {
                        ReportProgress(offer, offset, startOffset, start, _time.GetTimestamp());   // what is safe on disk
                        throw new IOException($"the transfer broke off at byte {offset} of {offer.Size}");
                    }
                    long at = offset;
                    stored = Task.Run(() =>
                    {
                        hash.AppendData(chunk, 0, n);
                        RandomAccess.Write(file, chunk.AsSpan(0, n), at);
                    }, CancellationToken.None);
                    offset += n;
                    long now = _time.GetTimestamp();
                    if (_time.GetElapsedTime(lastReport, now) >= _options.ProgressInterval && written > startOffset)
                    {
                        lastReport = now;
                        ReportProgress(offer, written, startOffset, start, now);
                    }
                }
            }
            finally
            {
                await stored.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            await stored.ConfigureAwait(false);
            ReportProgress(offer, offset, startOffset, start, _time.GetTimestamp());
            // Anything the sender has beyond the offered size is never read, let alone written.
        }
    }

    private void ReportProgress(FileOffer offer, long bytes, long startOffset, long start, long now)
    {
        double seconds = _time.GetElapsedTime(start, now).TotalSeconds;
        _publish(new FileProgressEvent(offer.Id, offer.Name, bytes, offer.Size, seconds > 0 ? (bytes - startOffset) / seconds : 0));
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or the stream ends; returns how much was read.</summary>
    private static async Task<int> FillAsync(Stream stream, Memory<byte> buffer, Action progress, CancellationToken cancellationToken)
    {
        int filled = 0;
        while (filled < buffer.Length)
        {
            int n = await stream.ReadAsync(buffer[filled..], cancellationToken).ConfigureAwait(false);
            if (n == 0)
                break;
            progress();
            filled += n;
        }
        return filled;
    }

    /// <summary>Moves the verified file to the first free name; never replaces an existing file or link.</summary>
    private string MoveToFreeName(string partialPath, string safeName)
    {
        for (int attempt = 0; attempt < 10_000; attempt++)
        {
            string candidate = SafeFileName.FreePath(DownloadsDirectory, safeName, attempt);
            if (File.Exists(candidate) || Directory.Exists(candidate) || IsLink(candidate))
                continue;
            try
            {
                File.Move(partialPath, candidate, overwrite: false);
                return candidate;
            }
            catch (IOException) when (File.Exists(candidate) || Directory.Exists(candidate) || IsLink(candidate))
            {
                // taken between the check and the move: try the next name
            }
        }
        throw new FileSharingException($"no free name for {safeName} in {DownloadsDirectory}");
    }

    private void Forget(string id, bool deletePartial)
    {
        TryDelete(RecordPath(id));
        if (deletePartial)
            TryDelete(PartialPath(id));
    }

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

    /// <summary>Creates the downloads and partial folders; refuses a partial folder that is a link (it could point anywhere).</summary>
    private void PrepareDirectories()
    {
        Directory.CreateDirectory(DownloadsDirectory);
        if (IsLink(PartialDirectory))
            throw new FileSharingException($"{PartialDirectory} is a symbolic link; refusing to write through it");
        Directory.CreateDirectory(PartialDirectory);
    }

    private string PartialPath(string id) => Path.Combine(PartialDirectory, id + ".part");

    private string RecordPath(string id) => Path.Combine(PartialDirectory, id + ".json");

    private static bool IsLink(string path)
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

    private static string ExpandPath(string path)
    {
        if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal))
            path = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) + path[1..];
        return Path.GetFullPath(path);
    }

    private static void WriteAtomically(string path, byte[] bytes)
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

    private void LoadOffers()
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
                        _offeredOrder.Enqueue(offered.Offer.Id);
                }
            }
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            Log.FileStateUnreadable(_logger, path, e.Message);
        }
    }

    private async Task SaveOffersAsync(CancellationToken cancellationToken)
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
            WriteAtomically(Path.Combine(_options.StateDirectory, OffersFile),
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

    /// <summary>Stops the downloads; their partial files stay for the next run.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
            return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        Task[] running;
        lock (_gate)
            running = [.. _downloads.Values.Select(d => d.Task)];
        await Task.WhenAll(running).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _network.Offers = null;
    }
}

/// <summary>A file cannot be offered or fetched; the message says why in words for the user.</summary>
public sealed class FileSharingException(string message, Exception? inner = null) : Exception(message, inner);
