namespace Echo.Core.Ports;

/// <summary>A network operation failed; the message says why in words a user can act on.</summary>
public sealed class ChatNetworkException(string message, Exception? inner = null) : Exception(message, inner);
