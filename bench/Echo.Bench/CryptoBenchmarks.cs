using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;

namespace Echo.Bench;

/// <summary>The physical ceiling of a Noise stream: ChaCha20-Poly1305 on one core, 64 KiB frames.</summary>
[MemoryDiagnoser]
public class CryptoBenchmarks
{
    private const int FrameSize = 65519;
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly byte[] _plain = RandomNumberGenerator.GetBytes(FrameSize);
    private readonly byte[] _cipher = new byte[FrameSize];
    private readonly byte[] _tag = new byte[16];
    private readonly byte[] _nonce = new byte[12];
    private ChaCha20Poly1305 _aead = null!;

    [GlobalSetup]
    public void Setup() => _aead = new ChaCha20Poly1305(_key);

    [GlobalCleanup]
    public void Cleanup() => _aead.Dispose();

    [Benchmark(Description = "ChaCha20-Poly1305 encrypt 65519 B")]
    public void Encrypt() => _aead.Encrypt(_nonce, _plain, _cipher, _tag);

    /// <summary>Bytes per second of one core, measured without BenchmarkDotNet for the e2e report.</summary>
    public static double MeasureEncryptRate(TimeSpan duration)
    {
        using ChaCha20Poly1305 aead = new(RandomNumberGenerator.GetBytes(32));
        byte[] plain = RandomNumberGenerator.GetBytes(FrameSize), cipher = new byte[FrameSize], tag = new byte[16], nonce = new byte[12];
        for (int i = 0; i < 200; i++)
            aead.Encrypt(nonce, plain, cipher, tag);     // warm up
        long bytes = 0;
        System.Diagnostics.Stopwatch watch = System.Diagnostics.Stopwatch.StartNew();
        while (watch.Elapsed < duration)
        {
            for (int i = 0; i < 64; i++)
                aead.Encrypt(nonce, plain, cipher, tag);
            bytes += 64L * FrameSize;
        }
        return bytes / watch.Elapsed.TotalSeconds;
    }
}
