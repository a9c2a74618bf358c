using System.Reflection;
using Terminal.Gui.Drivers;
using Terminal.Gui.Input;

namespace Echo.Tui.Input;

/// <summary>
/// Keeps Alt keys that arrive in one read with what follows them. A terminal sends Alt+B as ESC and
/// "b"; when more keys come in the same read (typing fast, a slow SSH link batching keys, tmux
/// send-keys), Terminal.Gui 2.5's ANSI parser holds "ESC b X…" as one unknown escape sequence and
/// drops all of it after 50 ms: the Alt key and every key after it are lost. Its parser has a hook
/// for such sequences (not public in 2.5, so it is set by name); this class gives the hook the keys
/// the sequence stands for: Alt and the first character, then each character after it.
/// </summary>
internal static class AltKeySequences
{
    private const char Escape = '\x1b';

    /// <summary>
    /// The keys a held sequence stands for, or null when it is not an Alt key with keys after it
    /// (an unknown CSI, SS3 or OSC sequence, or a control character after ESC): those stay dropped.
    /// </summary>
    public static IReadOnlyList<Key>? Keys(string held)
    {
        if (held.Length < 2 || held[0] != Escape || char.IsControl(held[1]) || held[1] is '[' or 'O' or ']')
            return null;
        List<Key> keys = new(held.Length - 1) { new Key(held[1]).WithAlt };
        foreach (char c in held.AsSpan(2))
        {
            if (char.IsControl(c) || char.IsSurrogate(c))
                return null;   // not what a person types after an Alt key: leave it to the parser
            keys.Add(new Key(c));
        }
        return keys;
    }

    /// <summary>
    /// Sets the hook on the driver's parser; false when this Terminal.Gui has no such hook (then the
    /// keys stay lost as before, and nothing else changes).
    /// </summary>
    public static bool Install(IInputProcessor input)
    {
        IAnsiResponseParser parser = input.GetParser();
        PropertyInfo? hook = parser.GetType().GetProperty("UnexpectedResponseHandler", BindingFlags.Public | BindingFlags.Instance);
        if (hook is null || hook.PropertyType != typeof(Func<IEnumerable<Tuple<char, char>>, bool>) || !hook.CanWrite)
            return false;
        Func<IEnumerable<Tuple<char, char>>, bool> handler = held =>
        {
            // On the main loop, inside the parser's pass, where the parser raises the keys it knows.
            IReadOnlyList<Key>? keys = Keys(string.Concat(held.Select(h => h.Item1)));
            if (keys is not null)
            {
                foreach (Key key in keys)
                    input.RaiseKeyDownEvent(key);
            }
            return true;   // swallowed: what it stood for, if anything, is raised above
        };
        hook.SetValue(parser, handler);
        return true;
    }
}
