using System.CommandLine;
using Echo.Cli;

// echo-chat: the Echo executable. This file only reads the command line and environment.
Echo.Net.Host.NativeHeap.ReturnFreedBlocksToTheSystem();
Option<int> port = new("--port")
{
    Description = "TCP port to listen on, all IPv4 interfaces (0 = any free port) [env: PORT]",
    DefaultValueFactory = r => Environment.GetEnvironmentVariable("PORT") is { Length: > 0 } env ? ChatSettings.ParsePort(r, env, "PORT") : 0,
    CustomParser = r => ChatSettings.ParsePort(r, r.Tokens[0].Value, "--port"),
};
Option<string?> name = new("--name")
{
    Description = "Your nick; also keeps each name's identity and data apart on one machine [env: NAME]",
    DefaultValueFactory = _ => Environment.GetEnvironmentVariable("NAME"),
};
Option<string[]> listen = new("--listen") { Description = "Multiaddr to listen on instead of --port (repeatable)" };
Option<string[]> connect = new("--connect") { Description = "Multiaddr of a peer to dial at start, /p2p/<id> optional (repeatable)" };
Option<string?> room = new("--room") { Description = $"Room to join at start (default: {ChatSettings.DefaultRoom})" };
Option<string?> dataDir = new("--data-dir") { Description = "Where the identity key and logs live (default: $XDG_DATA_HOME/echo/<name>)" };
Option<bool> headless = new("--headless") { Description = "No TUI: stdin lines are sent or run as /commands, stdout is one JSON event per line" };
Option<bool> noMdns = new("--no-mdns") { Description = "Do not discover or announce peers on the local network" };
Option<bool> noBell = new("--no-bell") { Description = "Do not ring the terminal bell on a mention or a direct message (TUI)" };
Option<string?> logFile = new("--log-file") { Description = "Write logs to this file (default with the TUI: <data-dir>/echo.log)" };
Option<string?> logLevel = new("--log-level")
{
    Description = $"The least severe log entries written: {ChatSettings.LogLevelNames} (default: information; headless stderr still shows warnings and worse only)",
};
Option<string?> web = new("--web")
{
    Description = "Also serve the chat to a browser at ADDRESS:PORT (default 127.0.0.1:0, any free port); prints the URL to open",
    Arity = ArgumentArity.ZeroOrOne,
};
Option<bool> webAllowRemote = new("--web-allow-remote") { Description = "Let --web listen on an address other machines can reach" };
Option<string?> downloads = new("--downloads") { Description = "Where downloaded files are put (default: ~/Downloads/echo)" };
Option<string?> maxFileSize = new("--max-file-size") { Description = "Largest file /get accepts, e.g. 500M, 4G (default: 4G)" };
Option<double?> storeRate = new("--store-rate")
{
    Description = "Messages a second one author may have stored after a burst of 100 (default: 1; more are dropped and counted in /stats)",
};
Option<string?> memoryBudget = new("--memory-budget")
{
    Description = $"MiB of buffered network data the node may hold, all peers together ({ChatSettings.MinMemoryBudgetMiB} to {ChatSettings.MaxMemoryBudgetMiB}; default: {ChatSettings.DefaultMemoryBudgetMiB})",
};
Option<bool> autoNatServer = new("--autonat-server")
{
    Description = "Serve AutoNAT reachability checks from the start, for a node known to be public (turns AutoNAT on; it uses only peers already connected)",
};
Option<string[]> publicRange = new("--public-range")
{
    Description = "Count this CIDR range as public, e.g. a test network's internet (repeatable; observed addresses and reachability)",
};
Option<string?> observerThreshold = new("--observer-threshold")
{
    Description = $"Distinct peers (IPv4 address or IPv6 /56) that must see the same address of ours before it is trusted (1 to {ChatSettings.MaxObserverThreshold}; default: {Echo.Net.Host.HostOptions.DefaultObservedAddressThreshold})",
};
Option<string[]> bootstrap = new("--bootstrap")
{
    Description = "Join the public libp2p network from this peer: /dnsaddr/<name> or a TCP multiaddr ending in /p2p/<id>, or the peers a bare /dnsaddr/<name> lists (repeatable)",
};
Option<bool> publicNetwork = new("--public")
{
    Description = "Join the public libp2p network from the built-in bootstrap list (the Amino DHT's bootstrappers); dials them at start",
};
Option<bool> dhtServer = new("--dht-server")
{
    Description = "Run the DHT in server mode (answer other peers, be in their routing tables) even when AutoNAT does not say public; needs --bootstrap or --public",
};
Option<bool> dhtClient = new("--dht-client")
{
    Description = "Keep the DHT in client mode (ask only, never announce it) even when AutoNAT says public; needs --bootstrap or --public",
};
Option<bool> noRelayService = new("--no-relay-service")
{
    Description = "Never relay for other peers (by default, with --bootstrap or --public, a node AutoNAT judges public serves circuit relay v2 within go's limits: 2 min and 128 KiB per circuit)",
};
Option<bool> relayService = new("--relay-service")
{
    Description = "Serve circuit relay v2 from the start, for a node known to be public (with --bootstrap or --public)",
};
Option<bool> reserveRelays = new("--reserve-relays")
{
    Description = "Keep relay reservations whatever AutoNAT says (by default only while this node is judged private), e.g. on a network without AutoNAT servers",
};
Option<bool> noHolePunch = new("--no-hole-punch")
{
    Description = "Never upgrade a relayed connection to a direct one (DCUtR hole punching, on by default with --bootstrap or --public); relayed peers stay relayed",
};
Option<string?> dns = new("--dns") { Description = "DNS server for /dnsaddr lookups, ADDRESS[:PORT] (default: the system's resolvers)" };
Argument<string?> peer = new("multiaddr") { Description = "A peer to dial at start, as echo-go takes it", Arity = ArgumentArity.ZeroOrOne };

RootCommand root = new("Echo: peer-to-peer chat over libp2p")
{
    port, name, listen, connect, room, dataDir, headless, noMdns, logFile, logLevel, web, webAllowRemote, downloads, maxFileSize, storeRate, memoryBudget, noBell,
    autoNatServer, publicRange, observerThreshold, bootstrap, publicNetwork, dns, dhtServer, dhtClient, noRelayService, relayService, reserveRelays,
    noHolePunch, peer,
};
Command id = new("id", "Print this node's peer id and the addresses it would listen on, then exit") { port, name, listen, dataDir };
root.Subcommands.Add(id);
Option<bool> json = new("--json") { Description = "One JSON object per line: from, nick, text, ts, id, verified" };
Option<string?> since = new("--since") { Description = "Only messages from this time on (ISO 8601, UTC unless it says otherwise)" };
Command history = new("history", "Print a room's stored messages, oldest first, then exit") { room, json, since, name, dataDir };
root.Subcommands.Add(history);

ChatSettings Settings(ParseResult parse) => ChatSettings.Create(
    parse.GetValue(port), parse.GetValue(name), parse.GetValue(listen) ?? [],
    [.. parse.GetValue(connect) ?? [], .. parse.GetValue(peer) is { } p ? new[] { p } : []],
    parse.GetValue(room), parse.GetValue(dataDir), parse.GetValue(headless), parse.GetValue(noMdns), parse.GetValue(logFile))
    .WithWeb(parse.GetResult(web) is not null, parse.GetValue(web), parse.GetValue(webAllowRemote))
    .WithFiles(parse.GetValue(downloads), parse.GetValue(maxFileSize))
    .WithStoreRate(parse.GetValue(storeRate))
    .WithMemoryBudget(parse.GetValue(memoryBudget))
    .WithBell(!parse.GetValue(noBell))
    .WithLogLevel(parse.GetValue(logLevel))
    .WithPublicRanges(parse.GetValue(publicRange) ?? [])
    .WithObserverThreshold(parse.GetValue(observerThreshold))
    .WithAutoNat(parse.GetValue(autoNatServer))
    .WithPublicNetwork(parse.GetValue(bootstrap) ?? [], parse.GetValue(publicNetwork), parse.GetValue(dns))
    .WithDht(parse.GetValue(dhtServer), parse.GetValue(dhtClient))
    .WithRelay(parse.GetValue(noRelayService), parse.GetValue(relayService), parse.GetValue(reserveRelays))
    .WithHolePunch(!parse.GetValue(noHolePunch));

root.SetAction(async (parse, ct) =>
{
    ChatSettings settings;
    try
    {
        settings = Settings(parse);
    }
    catch (ArgumentException e)
    {
        await Console.Error.WriteLineAsync($"echo-chat: {e.Message}");
        return 2;
    }
    return await ChatApp.RunAsync(settings, ct);
});
id.SetAction(parse =>
{
    try
    {
        return ChatApp.PrintId(ChatSettings.Create(parse.GetValue(port), parse.GetValue(name), parse.GetValue(listen) ?? [], [],
            null, parse.GetValue(dataDir), headless: true, noMdns: true, logFile: null), Console.Out);
    }
    catch (ArgumentException e)
    {
        Console.Error.WriteLine($"echo-chat: {e.Message}");
        return 2;
    }
});
history.SetAction(async (parse, ct) =>
{
    ChatSettings settings;
    DateTimeOffset? from;
    try
    {
        settings = ChatSettings.Create(0, parse.GetValue(name), [], [], parse.GetValue(room), parse.GetValue(dataDir),
            headless: true, noMdns: true, logFile: null);
        from = parse.GetValue(since) is { } text ? HistoryExport.ParseSince(text) : null;
    }
    catch (ArgumentException e)
    {
        await Console.Error.WriteLineAsync($"echo-chat: {e.Message}");
        return 2;
    }
    return await HistoryExport.RunAsync(settings.DataDirectory, settings.Room, parse.GetValue(json), from, Console.Out, Console.Error, ct);
});
ParseResult parsed = root.Parse(args);
if (CommandLineErrors.Describe(parsed) is { } problem)
{
    // One line on stderr, nothing on stdout: a script sees exit code 2 and the reason.
    await Console.Error.WriteLineAsync($"echo-chat: {problem}");
    return 2;
}
return await parsed.InvokeAsync();
