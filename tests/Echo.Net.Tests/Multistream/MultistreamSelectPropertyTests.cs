using System.Buffers;
using System.IO.Pipelines;
using CsCheck;
using Echo.Net.Multistream;

namespace Echo.Net.Tests.Multistream;

/// <summary>
/// Random and mutated-valid byte sequences fed to both roles: each run ends with a result or a
/// <see cref="ProtocolViolationException"/>, never another exception and never a hang.
/// </summary>
public class MultistreamSelectPropertyTests
{
    private static readonly string[] Pool = ["/noise", "/tls/1.0.0", "/yamux/1.0.0", "ls", "na", "/multistream/1.0.0"];
    private static readonly byte[] Header = MultistreamSelect.EncodeMessage(MultistreamSelect.ProtocolId);
    private static readonly byte[] NotAvailable = MultistreamSelect.EncodeMessage("na");
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(10);

    private static readonly Gen<byte[]> Tail = Gen.Byte.Array[0, 8];

    // Header, a few proposals, then what a lazy initiator would send next.
    private static readonly Gen<byte[]> ValidInitiatorBytes =
        Gen.Select(Gen.OneOf(Pool).Array[1, 4], Tail, (proposals, tail) =>
            Concat([Header, .. proposals.Select(MultistreamSelect.EncodeMessage), tail]));

    // Header, a few "na", an echo (or not), then the selected protocol's bytes.
    private static readonly Gen<byte[]> ValidResponderBytes =
        Gen.Select(Gen.Int[0, 2], Gen.OneOf(Pool), Tail, (refusals, echo, tail) =>
            Concat([Header, .. Enumerable.Repeat(NotAvailable, refusals), MultistreamSelect.EncodeMessage(echo), tail]));

    [Fact]
    public void TryReadMessage_RandomAndMutatedBytes_OnlyViolations()
    {
        Gen.OneOf(Gen.Byte.Array[0, 48], Mutate(ValidInitiatorBytes), Mutate(ValidResponderBytes)).Sample(bytes =>
        {
            ReadOnlySequence<byte> buffer = new(bytes);
            try
            {
                while (MultistreamSelect.TryReadMessage(ref buffer, out string? text))
                    Assert.NotNull(text);
            }
            catch (ProtocolViolationException)
            {
            }
        }, iter: 100_000);
    }

    [Fact]
    public async Task Listen_RandomAndMutatedBytes_EndsWithResultOrViolation()
    {
        int agreed = 0;
        Gen<byte[]> random = Gen.OneOf(Gen.Byte.Array[0, 48], Gen.Byte.Array[0, 24].Select(b => Concat([Header, b])));
        await Gen.OneOf(random, Mutate(ValidInitiatorBytes)).SampleAsync(async bytes =>
        {
            (IDuplexPipe remote, IDuplexPipe local) = TestPipes.CreatePipePair();
            await remote.Output.WriteAsync(bytes, TestContext.Current.CancellationToken);
            await remote.Output.CompleteAsync();
            using CancellationTokenSource cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            cts.CancelAfter(RunTimeout);
            try
            {
                string selected = await MultistreamSelect.ListenAsync(local, p => p is "/noise" or "/yamux/1.0.0", cts.Token);
                Assert.True(selected is "/noise" or "/yamux/1.0.0");
                Interlocked.Increment(ref agreed);
            }
            catch (ProtocolViolationException)
            {
            }
        }, iter: 20_000);
        Assert.True(agreed > 0, "the generator never produced a successful negotiation");
    }

    [Fact]
    public async Task Select_RandomAndMutatedBytes_EndsWithResultOrViolation()
    {
        int agreed = 0;
        Gen<byte[]> random = Gen.OneOf(Gen.Byte.Array[0, 48], Gen.Byte.Array[0, 24].Select(b => Concat([Header, b])));
        await Gen.OneOf(random, Mutate(ValidResponderBytes)).SampleAsync(async bytes =>
        {
            (IDuplexPipe remote, IDuplexPipe local) = TestPipes.CreatePipePair();
            await remote.Output.WriteAsync(bytes, TestContext.Current.CancellationToken);
            await remote.Output.CompleteAsync();
            using CancellationTokenSource cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            cts.CancelAfter(RunTimeout);
            try
            {
                string selected = await MultistreamSelect.SelectAsync(local, ["/tls/1.0.0", "/noise", "/yamux/1.0.0"], cts.Token);
                Assert.True(selected is "/tls/1.0.0" or "/noise" or "/yamux/1.0.0");
                Interlocked.Increment(ref agreed);
            }
            catch (ProtocolViolationException)
            {
            }
        }, iter: 20_000);
        Assert.True(agreed > 0, "the generator never produced a successful negotiation");
    }

    // Zero to three edits: flip a byte, insert one, delete one, or cut the tail off.
    private static Gen<byte[]> Mutate(Gen<byte[]> valid) =>
        Gen.Select(valid, Gen.Select(Gen.Int[0, 3], Gen.Int[0, 1000], Gen.Byte).Array[0, 3], (bytes, edits) =>
        {
            List<byte> list = [.. bytes];
            foreach ((int kind, int at, byte value) in edits)
            {
                if (list.Count == 0)
                    break;
                int i = at % list.Count;
                switch (kind)
                {
                    case 0: list[i] ^= (byte)(value | 1); break;
                    case 1: list.Insert(i, value); break;
                    case 2: list.RemoveAt(i); break;
                    default: list.RemoveRange(i, list.Count - i); break;
                }
            }
            return list.ToArray();
        });

    private static byte[] Concat(IEnumerable<byte[]> parts) => [.. parts.SelectMany(p => p)];
}
