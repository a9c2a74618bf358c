using BenchmarkDotNet.Running;
using Echo.Bench;

// echo-bench micro [BenchmarkDotNet args]   crypto and codec micro-benchmarks
// echo-bench e2e [--quick]                  end-to-end figures, C# and js-libp2p side by side
// echo-bench chat [--quick]                 the echo-chat app: start to ready, send to display, idle TUI CPU
// echo-bench history [--quick]              history: catch-up of missed messages, page loads from a large store
// echo-bench files [--size MiB] [--runs N] [--dir D]  file transfer (/get) against raw stream throughput (/perf)
// echo-bench dm [--quick] [--dir D]         acknowledged direct messages per second, stores on disk
// echo-bench autonat [--quick]             AutoNAT server cost per check (CPU µs), same IP, other IP, rate-limited
// echo-bench autonat-lab [--quick] [--runs N]  start to an AutoNAT verdict in the NAT lab (root), js client checks against our server
// echo-bench dht-lab [--quick] [--lookups N]  Kademlia on 127.0.0.1: 20 js servers, Echo's and js's lookups and provides side by side
// echo-bench relay [--quick] [--circuits N] [--destinations D]  relay CPU and memory per circuit, ours beside js-libp2p's (loopback)
// echo-bench relay-peer                     an Echo relay node driven over stdin/stdout (used by relay)
// echo-bench nat-chat [--runs N]           two NATed users in one room (NAT lab, root): first message, then direct; N runs (20)
// echo-bench peer                           a C# node driven over stdin/stdout (used by e2e)
string mode = args.Length > 0 ? args[0] : "e2e";
string[] rest = args.Length > 0 ? args[1..] : [];
return mode switch
{
    "micro" => RunMicro(rest),
    "peer" => await PeerMode.RunAsync(),
    "e2e" => await EndToEnd.RunAsync(rest),
    "chat" => await ChatBench.RunAsync(rest),
    "history" => await HistoryBench.RunAsync(rest),
    "files" => await FilesBench.RunAsync(rest),
    "dm" => await DirectBench.RunAsync(rest),
    "autonat" => await AutoNatBench.RunAsync(rest),
    "autonat-lab" => await AutoNatLabBench.RunAsync(rest),
    "dht-lab" => await DhtLabBench.RunAsync(rest),
    "relay" => await RelayBench.RunAsync(rest),
    "relay-peer" => await RelayPeerMode.RunAsync(),
    "nat-chat" => await NatChatLabBench.RunAsync(rest),
    _ => Usage(),
};

static int RunMicro(string[] args)
{
    BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    return 0;
}

static int Usage()
{
    Console.Error.WriteLine("usage: echo-bench micro|e2e|chat|history|files|dm|autonat|autonat-lab|dht-lab|relay|relay-peer|nat-chat|peer");
    return 2;
}
