namespace Echo.Protocols.EchoGo;

/// <summary>
/// When we open our own stream to an echo-go peer: once we may (we dialed it, or the grace for the
/// peer's own stream passed), while none is open or being opened, and at most
/// <see cref="MaxPerConnection"/> times per connection, so a peer that keeps closing ours is not
/// asked forever. Not thread-safe: its owner calls it under its lock.
/// </summary>
internal sealed class EchoGoOpens
{
    /// <summary>Opens per connection.</summary>
    public const int MaxPerConnection = 4;

    private bool _mayOpen;
    private bool _opening;
    private int _opened;

    /// <summary>How many streams we opened on this connection.</summary>
    public int Opened => _opened;

    /// <summary>We may open a stream ourselves from now on.</summary>
    public void Allow() => _mayOpen = true;

    /// <summary>
    /// True when we should open a stream now, with <paramref name="openStreams"/> of the peer's
    /// streams open (the open counts as begun; call <see cref="End"/> once it succeeded or failed).
    /// </summary>
    public bool TryBegin(int openStreams)
    {
        if (!_mayOpen || _opening || openStreams > 0 || _opened >= MaxPerConnection)
            return false;
        _opening = true;
        _opened++;
        return true;
    }

    /// <summary>The open begun by <see cref="TryBegin"/> ended.</summary>
    public void End() => _opening = false;
}
