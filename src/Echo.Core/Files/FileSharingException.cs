namespace Echo.Core.Files;

/// <summary>A file cannot be offered or fetched; the message says why in words for the user.</summary>
public sealed class FileSharingException(string message, Exception? inner = null) : Exception(message, inner);
