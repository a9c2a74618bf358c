using System.CommandLine;
using Echo.Cli;

// echo-chat: the Echo executable. This file only reads the command line and environment.
Option<int> port = new("--port")
{
    Description = "TCP port to listen on, all IPv4 interfaces (0 = any free port) [env: PORT]",
    DefaultValueFactory = _ => int.TryParse(Environment.GetEnvironmentVariable("PORT"), out int p) ? p : 0,
};
Option<string?> name = new("--name")
{
    Description = "Your nickname; also keeps each name's identity apart on one machine [env: NAME]",
    DefaultValueFactory = _ => Environment.GetEnvironmentVariable("NAME"),
};
Option<string[]> listen = new("--listen") { Description = "Multiaddr to listen on instead of --port (repeatable)" };
Option<string[]> connect = new("--connect") { Description = "Multiaddr of a peer to dial at start (repeatable)" };
Option<string?> dataDir = new("--data-dir") { Description = "Where the identity key lives (default: $XDG_DATA_HOME/echo/<name>)" };
Argument<string?> peer = new("multiaddr") { Description = "A peer to dial at start, as echo-go takes it", Arity = ArgumentArity.ZeroOrOne };

RootCommand root = new("Echo: peer-to-peer chat over libp2p") { port, name, listen, connect, dataDir, peer };
Command id = new("id", "Print this node's peer id and the addresses it would listen on, then exit") { port, name, listen, dataDir };
root.Subcommands.Add(id);

NodeSettings Settings(ParseResult parse) => NodeSettings.Create(
    parse.GetValue(port), parse.GetValue(name), parse.GetValue(listen) ?? [],
    [.. parse.GetValue(connect) ?? [], .. parse.GetValue(peer) is { } p ? new[] { p } : []],
    parse.GetValue(dataDir));

root.SetAction((parse, ct) => NodeApp.RunAsync(Settings(parse), Console.In, Console.Out, Console.Error, ct));
id.SetAction((parse, ct) => NodeApp.PrintIdAsync(Settings(parse), Console.Out, Console.Error, ct));
return await root.Parse(args).InvokeAsync();
