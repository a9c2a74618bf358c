namespace Echo.Tui;

/// <summary>
/// The lines the user submitted, for Up/Down recall as in a shell: Up walks back, Down walks
/// forward and finally returns to what was being typed before Up.
/// </summary>
internal sealed class InputHistory(int capacity = 500)
{
    private readonly List<string> _lines = [];
    private int _position; // == _lines.Count when not browsing
    private string _draft = "";

    /// <summary>Remembers a submitted line (not blank ones, not a repeat of the last one) and stops browsing.</summary>
    public void Add(string line)
    {
        if (!string.IsNullOrWhiteSpace(line) && (_lines.Count == 0 || _lines[^1] != line))
        {
            _lines.Add(line);
            if (_lines.Count > capacity)
                _lines.RemoveAt(0);
        }
        _position = _lines.Count;
        _draft = "";
    }

    /// <summary>The line before the one shown, or null at the oldest. <paramref name="current"/> is kept as the draft.</summary>
    public string? Previous(string current)
    {
        if (_position == 0)
            return null;
        if (_position == _lines.Count)
            _draft = current;
        return _lines[--_position];
    }

    /// <summary>The line after the one shown, the draft after the newest, or null when not browsing.</summary>
    public string? Next()
    {
        if (_position >= _lines.Count)
            return null;
        _position++;
        return _position == _lines.Count ? _draft : _lines[_position];
    }
}
