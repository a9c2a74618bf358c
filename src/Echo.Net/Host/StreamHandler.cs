namespace Echo.Net.Host;

/// <summary>
/// Serves one inbound stream of a registered protocol. The token fires when the connection closes
/// or the host shuts down. An exception resets the stream and is logged; it never reaches the host.
/// </summary>
public delegate Task StreamHandler(P2PStream stream, CancellationToken cancellationToken);
