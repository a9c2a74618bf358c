using System.IO.Pipelines;

namespace Echo.TestKit;

/// <summary>Two cross-wired in-memory duplex pipes: what one side writes, the other reads.</summary>
public static class TestPipes
{
    public static (IDuplexPipe A, IDuplexPipe B) CreatePipePair(PipeOptions? options = null)
    {
        Pipe aToB = new(options ?? PipeOptions.Default);
        Pipe bToA = new(options ?? PipeOptions.Default);
        return (new DuplexPipe(bToA.Reader, aToB.Writer), new DuplexPipe(aToB.Reader, bToA.Writer));
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }
}
