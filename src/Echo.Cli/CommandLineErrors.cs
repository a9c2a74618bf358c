using System.CommandLine;
using System.CommandLine.Parsing;

namespace Echo.Cli;

/// <summary>
/// Turns what the parser found wrong with the command line into one line for stderr: an unknown
/// option is named as such with the closest real one, never passed on as a peer's multiaddr.
/// </summary>
internal static class CommandLineErrors
{
    /// <summary>The one-line problem with <paramref name="parse"/>, or null when the command line is fine.</summary>
    public static string? Describe(ParseResult parse)
    {
        // A multiaddr starts with '/' and no value of ours starts with "--" or "-<letter>": such a
        // token the parser took as an argument is an option it does not know (--no-mdsn).
        foreach (Token token in parse.Tokens)
        {
            if (token.Type == TokenType.Argument && LooksLikeOption(token.Value))
                return Unknown(token.Value, parse.CommandResult.Command);
        }
        foreach (string token in parse.UnmatchedTokens)
        {
            if (LooksLikeOption(token))
                return Unknown(token, parse.CommandResult.Command);
        }
        if (parse.Errors.Count == 0)
            return null;
        string message = parse.Errors[0].Message.ReplaceLineEndings(" ").Trim();
        return parse.UnmatchedTokens.Count > 0 ? $"unexpected argument {parse.UnmatchedTokens[0]} (see --help)" : message;
    }

    private static bool LooksLikeOption(string token) =>
        token.Length > 1 && token[0] == '-' && (token[1] == '-' ? token.Length > 2 : char.IsAsciiLetter(token[1]));

    private static string Unknown(string token, Command command)
    {
        string name = token.Split('=', 2)[0];
        string? closest = Closest(name, OptionNames(command));
        return closest is null
            ? $"unknown option {name} (see --help)"
            : $"unknown option {name}; did you mean {closest}?";
    }

    /// <summary>The options <paramref name="command"/> takes: its own and those its parents pass down.</summary>
    private static IEnumerable<string> OptionNames(Command command)
    {
        foreach (Option option in command.Options)
        {
            yield return option.Name;
            foreach (string alias in option.Aliases)
                yield return alias;
        }
        foreach (Symbol parent in command.Parents)
        {
            if (parent is not Command outer)
                continue;
            foreach (Option option in outer.Options.Where(o => o.Recursive))
                yield return option.Name;
        }
    }

    /// <summary>The name nearest to <paramref name="typed"/>, when it is near enough to be a slip.</summary>
    internal static string? Closest(string typed, IEnumerable<string> names)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (string name in names.Where(n => n.StartsWith("--", StringComparison.Ordinal)))
        {
            int distance = name.StartsWith(typed, StringComparison.Ordinal) && typed.Length >= 4 ? 0 : Distance(typed, name);
            if (distance < bestDistance || (distance == bestDistance && string.CompareOrdinal(name, best) < 0))
                (best, bestDistance) = (name, distance);
        }
        int allowed = Math.Max(1, Math.Min(3, (typed.Length - 2) / 3));
        return bestDistance <= allowed ? best : null;
    }

    /// <summary>Edits (insert, delete, replace, swap two neighbours) that turn <paramref name="a"/> into <paramref name="b"/>.</summary>
    private static int Distance(string a, string b)
    {
        int[,] d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++)
            d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++)
            d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }
}
