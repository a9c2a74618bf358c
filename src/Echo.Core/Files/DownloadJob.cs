using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging;

namespace Echo.Core.Files;

/// <summary>What every download shares: the network, the way to reach a peer, the folder, the settings and the event sink.</summary>
internal sealed record DownloadContext(IFileTransport Transport, ReachPeer Reach, DownloadFolder Folder, FileSharingOptions Options,
    Action<ChatEvent> Publish, ILogger Logger, TimeProvider Time);

/// <summary>How a download ended: saved (verified, at <paramref name="SavedAs"/>), or waiting for its peer to connect.</summary>
/// <paramref name="Unreachable"/> says why it waits (the peer cannot be reached, or only through a relay).
internal readonly record struct DownloadResult(string? SavedAs, bool WaitForPeer, ChatEvent? Unreachable = null);

/// <summary>
/// One download the user asked for, from start to end: reaches the sender, retries a broken
/// transfer from where it stopped with a growing delay, drops a download that receives nothing
/// for <see cref="FileSharingOptions.StallTimeout"/>, and reports progress. The disk side of each
/// attempt is a <see cref="DownloadWriter"/>.
/// </summary>
internal sealed class DownloadJob : IDisposable
{
    private readonly DownloadContext _context;
    private readonly CancellationToken _stopping;
    private readonly CancellationTokenSource _cancel;

    /// <param name="pending">What to fetch, from whom.</param>
    /// <param name="context">What downloads share.</param>
    /// <param name="stopping">Cancelled when the chat stops: the download then ends without a word (it resumes on the next run).</param>
    public DownloadJob(PendingDownload pending, DownloadContext context, CancellationToken stopping)
    {
        Pending = pending;
        _context = context;
        _stopping = stopping;
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(stopping);
    }

    /// <summary>What this job fetches, from whom.</summary>
    public PendingDownload Pending { get; }

    /// <summary>Stops the download (the user's /cancel); it says so once it has stopped.</summary>
    public void Cancel() => _cancel.Cancel();

    /// <summary>
    /// Fetches until the file is complete, retrying a broken transfer from where it stopped. It ends
    /// with an error when the sender cannot be reached within the bound (then the result asks to go
    /// on when the sender connects), when nothing arrives for the stall timeout, or when the user
    /// cancels it; the partial file stays in each case. A file that cannot be right (wrong hash, a
    /// size that changed) is deleted.
    /// </summary>
    public async Task<DownloadResult> RunAsync()
    {
        FileOffer offer = Pending.Offer;
        FileSharingOptions options = _context.Options;
        CancellationToken cancellationToken = _cancel.Token;
        int failures = 0;
        using CancellationTokenSource stalled = new();
        using CancellationTokenSource attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stalled.Token);
        using ITimer watchdog = _context.Time.CreateTimer(_ => stalled.Cancel(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        void Touch() => watchdog.Change(options.StallTimeout, Timeout.InfiniteTimeSpan);
        // Armed when the peer is (re)connected and by every byte that arrives, not by a retry: attempts
        // that fail one after another without data end as a stall too.
        bool arm = true;
        try
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (!_context.Transport.IsConnected(Pending.PeerId))
                {
                    arm = true;
                    watchdog.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);   // reaching the peer has its own bound
                    string? problem = await _context.Reach(Pending.PeerId, Pending.Nick, offer.Addresses ?? [], cancellationToken)
                        .ConfigureAwait(false);
                    if (problem is not null)
                    {
                        string nick = SafeText.ForDisplay(Pending.Nick);
                        Log.TransferStopped(_context.Logger, offer.Id, problem);
                        // Told by the coordinator once the download no longer counts as running.
                        return new DownloadResult(null, WaitForPeer: true, new FileErrorEvent(offer.Id,
                            $"{SafeText.ForDisplay(offer.Name)}: cannot reach {nick}: {problem}; " +
                            $"the download goes on when {nick} connects, or /get {offer.Id} tries again"));
                    }
                }
                if (_context.Transport.IsRelayedOnly(Pending.PeerId))
                {
                    // A relay's circuit is for text (2 min / 128 KiB): wait for a direct connection, which resumes it.
                    Log.TransferStopped(_context.Logger, offer.Id, "the sender is reached through a relay only");
                    return new DownloadResult(null, WaitForPeer: true, new FileWaitingEvent(offer.Id, offer.Name, Pending.PeerId,
                        $"{SafeText.ForDisplay(offer.Name)}: " + FileWaitingEvent.Waiting(SafeText.ForDisplay(Pending.Nick))));
                }
                if (arm)
                    Touch();
                arm = false;
                try
                {
                    return new DownloadResult(await TransferAsync(Touch, attempt.Token).ConfigureAwait(false), WaitForPeer: false);
                }
                catch (Exception e) when (e is IOException or ChatNetworkException or TimeoutException
                                          && !attempt.IsCancellationRequested)
                {
                    failures++;
                    Log.TransferInterrupted(_context.Logger, offer.Id, e.Message);
                }
                TimeSpan delay = options.RetryDelay * Math.Min(1 << Math.Min(failures - 1, 3), 8);
                await Task.Delay(delay, _context.Time, attempt.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is FileSharingException or UnauthorizedAccessException)
        {
            _context.Folder.Forget(offer.Id, deletePartial: e is FileSharingException);
            _context.Publish(new FileErrorEvent(offer.Id, e.Message));
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ChatNetworkException or TimeoutException
                                  && cancellationToken.IsCancellationRequested)
        {
            if (!_stopping.IsCancellationRequested)
                Stopped("cancelled");
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ChatNetworkException or TimeoutException
                                  && stalled.IsCancellationRequested)
        {
            Stopped($"no data for {options.StallTimeout.TotalSeconds:0} s, dropped");
        }
        return default;
    }

    /// <summary>Frees the job's cancellation; call once <see cref="RunAsync"/> has ended and nobody can cancel it any more.</summary>
    public void Dispose() => _cancel.Dispose();

    /// <summary>
    /// One attempt: continues the partial file from its length, verifies and moves it. Throws
    /// <see cref="FileSharingException"/> for what retrying cannot fix, and IOException or
    /// <see cref="ChatNetworkException"/> for a broken transfer worth retrying.
    /// </summary>
    private async Task<string> TransferAsync(Action progress, CancellationToken cancellationToken)
    {
        FileOffer offer = Pending.Offer;
        DownloadFolder folder = _context.Folder;
        folder.Prepare();
        string final;
        using (DownloadWriter writer = DownloadWriter.Open(folder.PartialPath(offer.Id), offer))
        {
            if (!writer.IsComplete)
                await ReceiveAsync(writer, progress, cancellationToken).ConfigureAwait(false);
            final = writer.CompleteInto(folder);
        }
        folder.Forget(offer.Id, deletePartial: false);
        return final;
    }

    private async Task ReceiveAsync(DownloadWriter writer, Action progress, CancellationToken cancellationToken)
    {
        FileOffer offer = Pending.Offer;
        long startOffset = writer.Length;
        (Stream bytes, long size) = await _context.Transport.OpenFileAsync(Pending.PeerId, offer.Id, startOffset, cancellationToken)
            .ConfigureAwait(false);
        await using (bytes.ConfigureAwait(false))
        {
            if (size != offer.Size)
                throw new FileSharingException($"{SafeText.ForDisplay(offer.Name)}: the sender now says {size} bytes, not the {offer.Size} offered");
            Log.TransferStarted(_context.Logger, offer.Id, Pending.PeerId, startOffset);
            if (startOffset > 0)
                _context.Publish(new FileResumedEvent(offer.Id, offer.Name, startOffset, offer.Size));
            TimeProvider time = _context.Time;
            long start = time.GetTimestamp();
            long lastReport = 0;
            await writer.ReceiveAsync(bytes, progress, written =>
            {
                long now = time.GetTimestamp();
                if (time.GetElapsedTime(lastReport, now) >= _context.Options.ProgressInterval && written > startOffset)
                {
                    lastReport = now;
                    ReportProgress(written, startOffset, start, now);
                }
            }, cancellationToken).ConfigureAwait(false);
            ReportProgress(writer.Length, startOffset, start, time.GetTimestamp());   // what is safe on disk
            if (!writer.IsComplete)
                throw new IOException($"the transfer broke off at byte {writer.Length} of {offer.Size}");
            // Anything the sender has beyond the offered size is never read, let alone written.
        }
    }

    private void ReportProgress(long bytes, long startOffset, long start, long now)
    {
        FileOffer offer = Pending.Offer;
        double seconds = _context.Time.GetElapsedTime(start, now).TotalSeconds;
        _context.Publish(new FileProgressEvent(offer.Id, offer.Name, bytes, offer.Size, seconds > 0 ? (bytes - startOffset) / seconds : 0));
    }

    /// <summary>The download stopped short of its end: it is kept paused (a restart leaves it), and the user is told how to resume it.</summary>
    private void Stopped(string why) => Paused(_context, Pending, why);

    /// <summary>
    /// Keeps <paramref name="pending"/> paused (a restart leaves it) and tells the user why it
    /// stopped, how much of it is kept and how to resume it.
    /// </summary>
    public static void Paused(DownloadContext context, PendingDownload pending, string why)
    {
        FileOffer offer = pending.Offer;
        Log.TransferStopped(context.Logger, offer.Id, why);
        long kept = 0;
        try
        {
            kept = context.Folder.PartialLength(offer.Id);
            context.Folder.Record(pending with { Paused = true });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.FileStateUnreadable(context.Logger, context.Folder.RecordPath(offer.Id), e.Message);
        }
        context.Publish(new FileErrorEvent(offer.Id, $"{SafeText.ForDisplay(offer.Name)}: {why} at {SizeText.Format(kept)} of " +
                                                     $"{SizeText.Format(offer.Size)}; /get {offer.Id} resumes it"));
    }
}
