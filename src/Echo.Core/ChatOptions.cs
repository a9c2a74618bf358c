using Echo.Core.Chat;
using Echo.Core.Files;

namespace Echo.Core;

/// <summary>Settings of a <see cref="ChatManager"/>.</summary>
public sealed record ChatOptions
{
    /// <summary>Our nick at start.</summary>
    public required string Nick { get; init; }

    /// <summary>The room joined at start, and where echo-go peers' lines appear.</summary>
    public string DefaultRoom { get; init; } = "lobby";

    /// <summary>Messages kept in memory per room for views that open later. A screenful many times over.</summary>
    public int ScrollbackPerRoom { get; init; } = 1000;

    /// <summary>
    /// Events buffered per subscriber. A view that falls this far behind loses the oldest events
    /// (it can redraw from the snapshot properties) rather than stall the chat for everyone.
    /// </summary>
    public int SubscriberCapacity { get; init; } = 10_000;

    /// <summary>Messages of each room loaded from the history store when it is joined (and so shown at start).</summary>
    public int HistoryOnJoin { get; init; } = 100;

    /// <summary>Message ids remembered to drop duplicates (a message relayed twice, or redelivered late).</summary>
    public int SeenMessageIds { get; init; } = 100_000;

    /// <summary>
    /// How long /msg and /get try to reach a peer that is not connected before they say it cannot be
    /// reached: a few dial attempts on a slow network, yet a prompt answer.
    /// </summary>
    public TimeSpan PeerConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>File sharing: the downloads folder, the size limit, where our offers are remembered.</summary>
    public FileSharingOptions Files { get; init; } = new();

    /// <summary>How much one author and one peer may make us store (rates and hourly quotas).</summary>
    public IngestQuotaOptions Ingest { get; init; } = new();

    /// <summary>The clock of the storage quota (tests pass a fake one).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        if (ChatLimits.CheckNick(Nick) is { } nickError)
            throw new ArgumentException(nickError, nameof(Nick));
        if (ChatLimits.CheckRoom(DefaultRoom) is { } roomError)
            throw new ArgumentException(roomError, nameof(DefaultRoom));
        ArgumentOutOfRangeException.ThrowIfLessThan(ScrollbackPerRoom, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(PeerConnectTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(SubscriberCapacity, 16);
        ArgumentOutOfRangeException.ThrowIfLessThan(SeenMessageIds, 1);
        Files.Validate();
        Ingest.Validate();
        ArgumentOutOfRangeException.ThrowIfNegative(HistoryOnJoin);
    }
}
