using System.Collections;

namespace Dsql.Sync.Bulk;

/// <summary>
/// Which value of an item of type <typeparamref name="T"/> goes into which column, in column order:
/// <c>new BulkColumnMap&lt;Order&gt; { { "id", o =&gt; o.Id }, { "total", o =&gt; o.Total } }</c>.
/// Values must be of the CLR type Npgsql writes for the column's type (int for integer, decimal for numeric, ...).
/// </summary>
/// <typeparam name="T">The type of the items written.</typeparam>
public sealed class BulkColumnMap<T> : IEnumerable<KeyValuePair<string, Func<T, object?>>>
{
    private readonly List<KeyValuePair<string, Func<T, object?>>> _columns = [];

    /// <summary>The number of columns mapped.</summary>
    public int Count => _columns.Count;

    /// <summary>Maps <paramref name="column"/> to the value <paramref name="value"/> reads from an item.</summary>
    /// <exception cref="ArgumentException">The column is already mapped or its name is empty.</exception>
    public void Add(string column, Func<T, object?> value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(column);
        ArgumentNullException.ThrowIfNull(value);
        if (_columns.Any(c => string.Equals(c.Key, column, StringComparison.Ordinal)))
            throw new ArgumentException($"Column '{column}' is mapped twice.", nameof(column));
        _columns.Add(new(column, value));
    }

    /// <inheritdoc/>
    public IEnumerator<KeyValuePair<string, Func<T, object?>>> GetEnumerator() => _columns.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
