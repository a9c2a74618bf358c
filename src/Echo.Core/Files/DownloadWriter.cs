using System.Security.Cryptography;
using Echo.Core.Chat;
using Microsoft.Win32.SafeHandles;

namespace Echo.Core.Files;

/// <summary>
/// The disk side of one download attempt: continues the partial file from its length, hashes the
/// whole file (the prefix already on disk included), never writes a byte beyond the offered size, and
/// only puts the file under its final name once it matches the offered SHA-256.
/// </summary>
/// <remarks>
/// Plain (synchronous) file calls over a <see cref="SafeFileHandle"/>: the page cache makes them
/// memory copies, cheaper than a thread-pool hop per chunk. The partial file is opened exclusively.
/// </remarks>
internal sealed class DownloadWriter : IDisposable
{
    /// <summary>The size of a read from the network and of a write to the disk.</summary>
    public const int BufferSize = 1024 * 1024;

    private readonly FileOffer _offer;
    private readonly string _partialPath;
    private readonly SafeFileHandle _file;
    private readonly IncrementalHash _hash;
    private readonly byte[] _buffer;

    private DownloadWriter(FileOffer offer, string partialPath, SafeFileHandle file, IncrementalHash hash, byte[] buffer, long length)
    {
        _offer = offer;
        _partialPath = partialPath;
        _file = file;
        _hash = hash;
        _buffer = buffer;
        Length = length;
    }

    /// <summary>The bytes on disk and hashed so far; a download goes on from here.</summary>
    public long Length { get; private set; }

    /// <summary>True once the file has the offered size (it is verified by <see cref="CompleteInto"/>).</summary>
    public bool IsComplete => Length == _offer.Size;

    /// <summary>
    /// Opens (or creates) the partial file at <paramref name="partialPath"/> for <paramref name="offer"/>
    /// and hashes what it holds. A partial file longer than the offer is started over.
    /// </summary>
    /// <exception cref="FileSharingException">The partial file is a symbolic link.</exception>
    /// <exception cref="IOException">The file cannot be opened or read.</exception>
    public static DownloadWriter Open(string partialPath, FileOffer offer)
    {
        if (DownloadFolder.IsLink(partialPath))
            throw new FileSharingException($"{partialPath} is a symbolic link; refusing to write through it");
        IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        SafeFileHandle? file = null;
        try
        {
            file = File.OpenHandle(partialPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            long length = RandomAccess.GetLength(file);
            if (length > offer.Size)
            {
                RandomAccess.SetLength(file, 0);
                length = 0;
            }
            byte[] buffer = new byte[BufferSize];
            // The prefix already on disk counts towards the hash; the whole file is verified, not only the new part.
            for (long hashed = 0; hashed < length;)
            {
                int n = RandomAccess.Read(file, buffer.AsSpan(0, (int)Math.Min(buffer.Length, length - hashed)), hashed);
                if (n == 0)
                    throw new IOException($"{partialPath} shrank while it was read");
                hash.AppendData(buffer, 0, n);
                hashed += n;
            }
            return new DownloadWriter(offer, partialPath, file, hash, buffer, length);
        }
        catch
        {
            file?.Dispose();
            hash.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Appends what <paramref name="source"/> sends, up to the offered size, and returns once it is
    /// all on disk: when the file is complete or the source ended early (then <see cref="Length"/>
    /// says how far it got). Anything the source has beyond the offered size is never read.
    /// </summary>
    /// <param name="source">The bytes from <see cref="Length"/> on.</param>
    /// <param name="received">Called after every read that brought bytes (a sign of life).</param>
    /// <param name="stored">Called after each chunk with the bytes safely on disk by then.</param>
    /// <param name="cancellationToken">Stops the reads; what is on disk stays.</param>
    public async Task ReceiveAsync(Stream source, Action received, Action<long> stored, CancellationToken cancellationToken)
    {
        long offset = Length;
        // Two buffers: while one is hashed and written on the thread pool, the next is read from the
        // network, so the disk and the hash do not hold up the sender's window.
        byte[][] buffers = [_buffer, new byte[_buffer.Length]];
        Task writing = Task.CompletedTask;
        try
        {
            for (int turn = 0; offset < _offer.Size; turn ^= 1)
            {
                byte[] chunk = buffers[turn];
                int n = await FillAsync(source, chunk.AsMemory(0, (int)Math.Min(chunk.Length, _offer.Size - offset)), received,
                    cancellationToken).ConfigureAwait(false);
                await writing.ConfigureAwait(false);
                Length = offset;
                if (n == 0)
                    return;
                long at = offset;
                writing = Task.Run(() =>
                {
                    _hash.AppendData(chunk, 0, n);
                    RandomAccess.Write(_file, chunk.AsSpan(0, n), at);
                }, CancellationToken.None);
                offset += n;
                stored(Length);
            }
        }
        finally
        {
            await writing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        await writing.ConfigureAwait(false);
        Length = offset;
    }

    /// <summary>
    /// Checks the complete file against the offered SHA-256, closes it and moves it to a free name in
    /// <paramref name="folder"/>; returns that path. A file that does not match stays where it is,
    /// under its partial name, for the caller to delete.
    /// </summary>
    /// <exception cref="FileSharingException">The content does not match the offer, or no free name is left.</exception>
    public string CompleteInto(DownloadFolder folder)
    {
        if (!IsComplete)
            throw new InvalidOperationException($"only {Length} of {_offer.Size} bytes are on disk");
        string actual = Convert.ToHexStringLower(_hash.GetHashAndReset());
        if (actual != _offer.Sha256)
            throw new FileSharingException($"{SafeText.ForDisplay(_offer.Name)}: SHA-256 mismatch (got {actual}); the download was discarded");
        _file.Dispose();
        return folder.MoveToFreeName(_partialPath, SafeFileName.Sanitize(_offer.Name));
    }

    /// <summary>Closes the partial file; it stays on disk.</summary>
    public void Dispose()
    {
        _file.Dispose();
        _hash.Dispose();
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or the stream ends; returns how much was read.</summary>
    private static async Task<int> FillAsync(Stream stream, Memory<byte> buffer, Action received, CancellationToken cancellationToken)
    {
        int filled = 0;
        while (filled < buffer.Length)
        {
            int n = await stream.ReadAsync(buffer[filled..], cancellationToken).ConfigureAwait(false);
            if (n == 0)
                break;
            received();
            filled += n;
        }
        return filled;
    }
}
