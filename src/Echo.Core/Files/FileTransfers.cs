using Echo.Core.Chat;
using Echo.Core.Events;
using Microsoft.Extensions.Logging;

namespace Echo.Core.Files;

/// <summary>
/// File sharing on one node: the files we offered (<see cref="OfferRegistry"/>), the offers we
/// heard of (<see cref="OfferCatalog"/>), and the downloads the user asked for with /get
/// (<see cref="DownloadJob"/>, one each), which go on when a peer they wait for connects.
/// </summary>
/// <remarks>
/// A download is written to <c>&lt;downloads&gt;/.echo-partial/&lt;id&gt;.part</c>, next to a small
/// JSON record of its offer (<see cref="DownloadFolder"/>), and resumes from the partial file's
/// length after a broken connection or a restart of either side. Only once the whole file matches
/// the offered SHA-256 is it moved to a free, sanitized name in the downloads folder
/// (<see cref="DownloadWriter"/>); a file that does not match is deleted and never shown as
/// complete. No byte is ever written beyond the offered size.
/// </remarks>
internal sealed class FileTransfers : IAsyncDisposable
{
    private readonly IFileTransport _transport;
    private readonly FileSharingOptions _options;
    private readonly Action<ChatEvent> _publish;
    private readonly TimeProvider _time;
    private readonly DownloadFolder _folder;
    private readonly DownloadContext _context;
    private readonly OfferRegistry _offered;
    private readonly Lock _gate = new();
    // Under _gate, together: what we heard of, what runs, and what waits for its peer.
    private readonly OfferCatalog _known;
    private readonly Dictionary<string, DownloadJob> _downloads = new(StringComparer.Ordinal);
    // Downloads that could not reach their peer, by peer: they go on when it connects.
    private readonly Dictionary<string, HashSet<string>> _waiting = new(StringComparer.Ordinal);
    private readonly BackgroundTasks _background = new();
    private readonly CancellationTokenSource _stopping = new();

    /// <param name="transport">The file side of the network.</param>
    /// <param name="options">The settings; validated here.</param>
    /// <param name="publish">Where the file events go.</param>
    /// <param name="logger">The log.</param>
    /// <param name="reach">Reaches a sender that is not connected; shared with direct messages.</param>
    /// <param name="time">The clock of retries, stalls and progress.</param>
    public FileTransfers(IFileTransport transport, FileSharingOptions options, Action<ChatEvent> publish, ILogger logger,
        ReachPeer reach, TimeProvider? time = null)
    {
        options.Validate();
        _transport = transport;
        _options = options;
        _publish = publish;
        _time = time ?? TimeProvider.System;
        _folder = new DownloadFolder(options.DownloadsDirectory, logger);
        _context = new DownloadContext(transport, reach, _folder, options, publish, logger, _time);
        _offered = new OfferRegistry(options, logger);
        _known = new OfferCatalog(options.MaxKnownOffers);
        _transport.Offers = _offered.Lookup;
    }

    /// <summary>The downloads folder as a full path.</summary>
    public string DownloadsDirectory => _folder.Root;

    /// <summary>Loads our offers and resumes the downloads a previous run left unfinished.</summary>
    public void Start()
    {
        _offered.Load();
        foreach (PendingDownload pending in _folder.Pending())
        {
            lock (_gate)
                _known.Restore(pending, _time.GetUtcNow());
            if (!pending.Paused)   // a cancelled or stalled one waits for /get
                StartDownload(pending);
        }
    }

    /// <summary>Hashes the file at <paramref name="path"/> and makes it fetchable under a new id.</summary>
    /// <exception cref="FileSharingException">The file cannot be offered; the message says why.</exception>
    public Task<FileOffer> OfferAsync(string path, string? to, CancellationToken cancellationToken) =>
        _offered.OfferAsync(path, to, cancellationToken);

    /// <summary>Remembers an offer a peer made so /get can fetch it; returns false for one already known or malformed.</summary>
    public bool OnOffer(FileOffer offer, string peerId, string nick, string? room)
    {
        if (offer.Problem() is { } problem)
        {
            Log.OfferIgnored(_context.Logger, peerId, problem);
            return false;
        }
        lock (_gate)
            return _known.Add(offer, peerId, nick, room, _time.GetUtcNow(), _downloads.ContainsKey);
    }

    /// <summary>Starts fetching offer <paramref name="idOrPrefix"/> (the whole id, or a unique prefix of at least 4 digits).</summary>
    public void Get(string idOrPrefix)
    {
        KnownFileOffer known;
        lock (_gate)
        {
            string[] matches = OfferCatalog.Matching(_known.Ids, idOrPrefix);
            if (matches.Length != 1)
            {
                _publish(new FileErrorEvent(idOrPrefix, matches.Length == 0
                    ? $"no file offer {SafeText.ForDisplay(idOrPrefix)} is known"
                    : $"{SafeText.ForDisplay(idOrPrefix)} matches {matches.Length} offers; give more of the id"));
                return;
            }
            known = _known.Find(matches[0])!;
            if (_downloads.ContainsKey(known.Offer.Id))
            {
                _publish(new NoticeEvent($"{SafeText.ForDisplay(known.Offer.Name)} is already being downloaded"));
                return;
            }
        }
        FileOffer offer = known.Offer;
        if (offer.Size > _options.MaxFileSize)
        {
            _publish(new FileErrorEvent(offer.Id, $"refused: {offer.Size} bytes is over the {_options.MaxFileSize}-byte limit (--max-file-size)"));
            return;
        }
        try
        {
            _folder.Prepare();
            long free = _folder.FreeSpace();
            long partial = _folder.PartialLength(offer.Id);
            if (free < offer.Size - partial)
            {
                _publish(new FileErrorEvent(offer.Id, $"refused: {offer.Size - partial} bytes needed, {free} free in {DownloadsDirectory}"));
                return;
            }
            PendingDownload pending = new(offer, known.FromPeerId, known.FromNick);
            _folder.Record(pending);
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
            return _known.List(_downloads.ContainsKey);
    }

    /// <summary>A peer connected (or got a direct connection beside its relayed one): downloads that could not reach it go on at once.</summary>
    public void OnPeerConnected(string peerId)
    {
        List<PendingDownload> resume = [];
        lock (_gate)
        {
            if (!_waiting.Remove(peerId, out HashSet<string>? ids))
                return;
            foreach (string id in ids)
            {
                if (_known.Find(id) is { } known)
                    resume.Add(new PendingDownload(known.Offer, known.FromPeerId, known.FromNick));
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
            string[] matches = OfferCatalog.Matching(_downloads.Keys.Concat(_waiting.Values.SelectMany(ids => ids)).Distinct(), idOrPrefix);
            if (matches.Length != 1)
            {
                _publish(new FileErrorEvent(idOrPrefix, matches.Length == 0
                    ? $"no download {SafeText.ForDisplay(idOrPrefix)} is running"
                    : $"{SafeText.ForDisplay(idOrPrefix)} matches {matches.Length} downloads; give more of the id"));
                return;
            }
            string id = matches[0];
            if (_downloads.TryGetValue(id, out DownloadJob? download))
            {
                download.Cancel();   // the download says so once it has stopped
                return;
            }
            foreach ((string peerId, HashSet<string> ids) in _waiting)
            {
                if (ids.Remove(id) && _known.Find(id) is { } known)
                {
                    waiting = new PendingDownload(known.Offer, known.FromPeerId, known.FromNick);
                    if (ids.Count == 0)
                        _waiting.Remove(peerId);
                    break;
                }
            }
        }
        if (waiting is not null)
            DownloadJob.Paused(_context, waiting, "cancelled");
    }

    /// <summary>The addresses the newest offer of <paramref name="peerId"/> named (for a direct message to it).</summary>
    public IReadOnlyList<string> AddressesOf(string peerId)
    {
        lock (_gate)
            return _known.AddressesOf(peerId);
    }

    private void StartDownload(PendingDownload pending)
    {
        lock (_gate)
        {
            if (_downloads.ContainsKey(pending.Offer.Id) || _stopping.IsCancellationRequested)
                return;
            if (_waiting.TryGetValue(pending.PeerId, out HashSet<string>? ids) && ids.Remove(pending.Offer.Id) && ids.Count == 0)
                _waiting.Remove(pending.PeerId);
            DownloadJob job = new(pending, _context, _stopping.Token);
            _downloads[pending.Offer.Id] = job;
            _background.Track(Task.Run(() => RunAsync(job)));
        }
    }

    /// <summary>Runs one download, then records how it ended: saved, or waiting for its peer.</summary>
    private async Task RunAsync(DownloadJob job)
    {
        PendingDownload pending = job.Pending;
        DownloadResult result = default;
        try
        {
            result = await job.RunAsync().ConfigureAwait(false);
            if (result.SavedAs is { } path)
            {
                lock (_gate)
                    _known.Saved(pending.Offer.Id, path);
            }
        }
        finally
        {
            lock (_gate)
            {
                _downloads.Remove(pending.Offer.Id);
                if (result.WaitForPeer && !_stopping.IsCancellationRequested)
                {
                    if (!_waiting.TryGetValue(pending.PeerId, out HashSet<string>? ids))
                        _waiting[pending.PeerId] = ids = new HashSet<string>(StringComparer.Ordinal);
                    ids.Add(pending.Offer.Id);
                }
            }
            job.Dispose();
        }
        // Told once the download no longer counts as running, so what a listener reads agrees.
        if (result.SavedAs is { } saved)
            _publish(new FileDoneEvent(pending.Offer.Id, saved, pending.Offer.Sha256));
        else if (result.Unreachable is { } unreachable)
            _publish(unreachable);
        // The peer may have connected while the error was told: then go on now.
        if (result.WaitForPeer && _transport.IsConnected(pending.PeerId) && !_transport.IsRelayedOnly(pending.PeerId))
            OnPeerConnected(pending.PeerId);
    }

    /// <summary>Stops the downloads; their partial files stay for the next run.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
            return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _background.DrainAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        _transport.Offers = null;
    }
}
