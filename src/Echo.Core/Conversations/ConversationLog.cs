using Echo.Core.Ports;

namespace Echo.Core.Conversations;

/// <summary>
/// The lines of one conversation, oldest first: ordered by <see cref="HistoryCursor"/> where that
/// matters (history that arrives late goes to its place in time), each message once (by id), and
/// bounded (the oldest lines go first). Core keeps one of messages per conversation; a face keeps
/// one of what it draws, with its own notes (notices) in between.
/// </summary>
/// <remarks>Not thread-safe: its owner calls it under its own lock, or from one thread.</remarks>
/// <typeparam name="T">What a line holds: a message, or a face's drawn line.</typeparam>
public sealed class ConversationLog<T>
{
    private readonly List<T> _items = [];
    private readonly List<HistoryCursor> _places = [];
    private readonly List<string?> _ids = [];
    private readonly HashSet<string> _known = new(StringComparer.Ordinal);
    private readonly Queue<string> _knownOrder = new();
    private readonly int _capacity;
    private readonly int _trimChunk;

    /// <param name="capacity">Lines kept; also how many message ids are remembered to drop repeats.</param>
    /// <param name="trimChunk">
    /// Lines dropped at once when over <paramref name="capacity"/> (1 keeps exactly the capacity;
    /// a face drawing the lines trims in chunks rather than one line per message).
    /// </param>
    public ConversationLog(int capacity, int trimChunk = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
        _trimChunk = Math.Clamp(trimChunk, 1, capacity);
    }

    /// <summary>The lines, oldest first (a live view: it changes with the log).</summary>
    public IReadOnlyList<T> Items => _items;

    /// <summary>How many lines there are.</summary>
    public int Count => _items.Count;

    /// <summary>The place of the oldest message in the log, or null when none is (older ones come from the history).</summary>
    public HistoryCursor? Oldest { get; private set; }

    /// <summary>True when a message with <paramref name="id"/> is (or was recently) in the log.</summary>
    public bool Contains(string id) => _known.Contains(id);

    /// <summary>The message id of line <paramref name="index"/>; null for a note.</summary>
    public string? IdAt(int index) => _ids[index];

    /// <summary>
    /// Appends a live message at the end; returns its index, or -1 when it is already here (or was
    /// recently, and trimmed since).
    /// </summary>
    public int Append(T item, string id, HistoryCursor place)
    {
        if (!Remember(id))
            return -1;
        _items.Add(item);
        _places.Add(place);
        _ids.Add(id);
        SeeOldest(place);
        return Trim(_items.Count - 1);
    }

    /// <summary>
    /// Inserts a message after every line that is not newer (history, or a late copy, in its place in
    /// time); returns its index, or -1 when it is already here or fell off the start at once.
    /// </summary>
    public int Insert(T item, string id, HistoryCursor place)
    {
        if (!Remember(id))
            return -1;
        int index = _places.Count;
        while (index > 0 && _places[index - 1].CompareTo(place) > 0)
            index--;
        _items.Insert(index, item);
        _places.Insert(index, place);
        _ids.Insert(index, id);
        SeeOldest(place);
        return Trim(index);
    }

    /// <summary>Appends a note (a line that is no message); its place in time is that of the line before it.</summary>
    public void AppendNote(T item)
    {
        _items.Add(item);
        _places.Add(_places.Count > 0 ? _places[^1] : HistoryCursor.Start);
        _ids.Add(null);
        Trim(_items.Count - 1);
    }

    /// <summary>
    /// Puts older messages (oldest first, all older than what is here) before every line, leaving out
    /// those already here; the log may exceed its capacity until the next append. An entry with a null
    /// id is a note (e.g. a day-change line), kept with the message before it. Returns how many
    /// messages were added.
    /// </summary>
    public int Prepend(IReadOnlyList<(T Item, string? Id, HistoryCursor Place)> older)
    {
        List<(T Item, string? Id, HistoryCursor Place)> fresh = [.. older.Where(o => o.Id is null || Remember(o.Id))];
        _items.InsertRange(0, fresh.Select(o => o.Item));
        _places.InsertRange(0, fresh.Select(o => o.Place));
        _ids.InsertRange(0, fresh.Select(o => o.Id));
        int added = 0;
        foreach ((_, string? id, HistoryCursor place) in fresh)
        {
            if (id is null)
                continue;
            SeeOldest(place);
            added++;
        }
        return added;
    }

    /// <summary>Replaces the line of message <paramref name="id"/> (e.g. once it is delivered); false when it is not here.</summary>
    public bool Replace(string id, T item)
    {
        int index = _ids.IndexOf(id);
        if (index < 0)
            return false;
        _items[index] = item;
        return true;
    }

    /// <summary>Removes the note <paramref name="note"/> (that very object, e.g. a marker); false when it is not here.</summary>
    public bool RemoveNote(T note)
    {
        for (int i = _items.Count - 1; i >= 0; i--)
        {
            if (_ids[i] is null && ReferenceEquals(_items[i], note))
            {
                _items.RemoveAt(i);
                _places.RemoveAt(i);
                _ids.RemoveAt(i);
                return true;
            }
        }
        return false;
    }

    /// <summary>Drops every line; the ids stay remembered, so a repeat is still left out.</summary>
    public void Clear()
    {
        _items.Clear();
        _places.Clear();
        _ids.Clear();
        Oldest = null;
    }

    private bool Remember(string id)
    {
        if (!_known.Add(id))
            return false;
        _knownOrder.Enqueue(id);
        if (_knownOrder.Count > _capacity)
            _known.Remove(_knownOrder.Dequeue());
        return true;
    }

    private void SeeOldest(HistoryCursor place)
    {
        if (Oldest is not { } oldest || place.CompareTo(oldest) < 0)
            Oldest = place;
    }

    /// <summary>Drops the oldest lines when over capacity; returns where line <paramref name="index"/> is now (-1 when dropped).</summary>
    private int Trim(int index)
    {
        if (_items.Count <= _capacity)
            return index;
        int drop = Math.Min(_trimChunk, _items.Count);
        _items.RemoveRange(0, drop);
        _places.RemoveRange(0, drop);
        _ids.RemoveRange(0, drop);
        Oldest = _places.Count > 0 ? _places[0] : null;   // older ones come back from the history
        return index - drop;
    }
}
