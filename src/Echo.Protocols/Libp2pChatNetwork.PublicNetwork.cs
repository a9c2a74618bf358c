using Echo.Net.Bootstrap;

namespace Echo.Protocols;

/// <summary>
/// The public network (<see cref="ChatNetworkOptions.PublicNetwork"/>): off unless asked for; on, the
/// bootstrap peers are resolved and dialed once the host listens, and /stats counts them.
/// </summary>
public sealed partial class Libp2pChatNetwork
{
    private Bootstrapper? _bootstrapper;

    /// <summary>Whether the public-network stack is on (<c>--bootstrap</c> or <c>--public</c>).</summary>
    public bool PublicNetworkEnabled => _options.PublicNetwork is not null;

    /// <summary>The bootstrapper, while the public network is on (for tests).</summary>
    internal Bootstrapper? Bootstrapper => _bootstrapper;

    /// <summary>Starts dialing the bootstrap peers (after the host listens); nothing without the public network.</summary>
    private void StartPublicNetwork()
    {
        if (_options.PublicNetwork is not { } publicNetwork)
            return;
        _bootstrapper = new Bootstrapper(_host, publicNetwork.Bootstrap, _loggers, _time);
        _bootstrapper.Start();
    }

    private async ValueTask DisposePublicNetworkAsync()
    {
        if (_bootstrapper is not null)
            await _bootstrapper.DisposeAsync().ConfigureAwait(false);
    }
}
