using System.Text;
using Dsql.Sync.Bulk;
using Npgsql;
using NpgsqlTypes;
using Names = Dsql.Sync.Schema.SqlNames;

namespace Dsql.Sync.Cdc;

/// <summary>
/// The SQL for the changes of one source table shape (<see cref="ChangeTable"/>) on its DSQL table: every value is a
/// text parameter cast to the target column's type.
/// </summary>
internal sealed class ChangeStatements
{
    private readonly string[] _casts;       // per source column: "::type" of the target column
    private readonly int[] _keyPositions;   // the source key (replica identity) columns' positions
    private readonly string _upsert;
    private readonly string? _delete;
    private readonly RowSizeEstimator _estimator;
    private readonly string _insertHead;     // INSERT INTO t (columns) VALUES
    private readonly string _conflictTail;   // ON CONFLICT ... (empty without a primary key)
    private readonly Dictionary<int, string> _groupedUpserts = new();
    private readonly Dictionary<int, string> _groupedDeletes = new();

    public ChangeStatements(ChangeTable table, ChangeTarget target)
    {
        Table = table;
        Target = target;
        var columns = table.Columns;
        _casts = columns.Select(c => "::" + target.ColumnTypes[c.Name]).ToArray();
        _keyPositions = Enumerable.Range(0, columns.Count).Where(i => columns[i].IsKey).ToArray();
        _estimator = new RowSizeEstimator(columns.Select(c => c.Name).ToArray(), target.Indexes);

        string names = string.Join(", ", columns.Select(c => Names.Quote(c.Name)));
        _insertHead = $"INSERT INTO {target.Quoted} ({names}) VALUES ";
        var conflict = new StringBuilder();
        if (target.PrimaryKey.Count > 0)
        {
            var others = columns.Where(c => !target.PrimaryKey.Contains(c.Name, StringComparer.Ordinal)).Select(c => Names.Quote(c.Name) + " = EXCLUDED." + Names.Quote(c.Name)).ToList();
            conflict.Append(" ON CONFLICT (").Append(string.Join(", ", target.PrimaryKey.Select(Names.Quote))).Append(')');
            conflict.Append(others.Count == 0 ? " DO NOTHING" : " DO UPDATE SET " + string.Join(", ", others));
        }
        _conflictTail = conflict.ToString();
        _upsert = _insertHead + RowPlaceholders(1, columns.Count) + _conflictTail;
        if (_keyPositions.Length > 0) _delete = $"DELETE FROM {target.Quoted} WHERE {KeyCondition(1)}";

        // Changes merge into multi-row statements only when the source key is the target's primary key: then one key
        // text names one target row, and the net effect of a batch on each row is all that has to be written.
        var keyNames = _keyPositions.Select(p => columns[p].Name).ToHashSet(StringComparer.Ordinal);
        CanGroup = target.PrimaryKey.Count > 0 && keyNames.SetEquals(target.PrimaryKey);
        RowsPerStatement = Math.Max(1, Math.Min(MaxRowsPerStatement, MaxParameters / Math.Max(1, columns.Count)));
    }

    /// <summary>Rows in one multi-row statement at most (a statement's parse and plan grow with it).</summary>
    private const int MaxRowsPerStatement = 500;

    /// <summary>Bind parameters PostgreSQL's protocol allows in one statement.</summary>
    private const int MaxParameters = 65_535;

    /// <summary>Whether this shape's changes may be merged into multi-row upserts and deletes (the source key is the target's primary key).</summary>
    public bool CanGroup { get; }

    /// <summary>Rows or keys in one grouped statement at most.</summary>
    public int RowsPerStatement { get; }

    public ChangeTable Table { get; }
    public ChangeTarget Target { get; }

    /// <summary>Whether updates and deletes can be applied: the source sends a key and the target has one to conflict on.</summary>
    public string? CannotUpdateOrDelete
        => _keyPositions.Length == 0 ? $"the source table {Table} sends no key (replica identity): DSQL needs a key to apply updates and deletes"
        : Target.PrimaryKey.Count == 0 ? $"the DSQL table {Target} has no primary key: DSQL needs a key to apply updates and deletes"
        : null;

    /// <summary>The rows <paramref name="change"/> (an insert, update or delete) modifies and their estimated bytes.</summary>
    public (int Rows, long Bytes) Measure(RowChange change)
    {
        switch (change.Kind)
        {
            case ChangeKind.Insert:
                return (1, Estimate(change.NewValues!));
            case ChangeKind.Delete:
                return (1, EstimateKey(change.OldKey!));
            case ChangeKind.Update:
                bool keyChanged = KeyChanged(change);
                return (keyChanged ? 2 : 1, Estimate(change.NewValues!) + (keyChanged ? EstimateKey(change.OldKey!) : 0));
            default:
                throw new ArgumentOutOfRangeException(nameof(change), change.Kind, "not a row change");
        }
    }

    /// <summary>The statements applying <paramref name="change"/> (an insert, update or delete), each time new ones.</summary>
    public (List<NpgsqlBatchCommand> Commands, int Rows) Build(RowChange change)
    {
        var commands = new List<NpgsqlBatchCommand>(2);
        switch (change.Kind)
        {
            case ChangeKind.Insert:
                commands.Add(Upsert(change.NewValues!));
                return (commands, 1);
            case ChangeKind.Delete:
                commands.Add(Delete(change.OldKey!));
                return (commands, 1);
            case ChangeKind.Update:
                var values = change.NewValues!;
                bool keyChanged = KeyChanged(change);
                bool partial = values.Any(v => v.IsUnchanged);
                if (!partial)
                {
                    if (keyChanged) commands.Add(Delete(change.OldKey!));
                    commands.Add(Upsert(values));
                }
                else if (PartialUpdate(values, keyChanged ? change.OldKey! : null) is { } update)
                {
                    commands.Add(update);
                }
                return (commands, keyChanged ? 2 : 1);
            default:
                throw new ArgumentOutOfRangeException(nameof(change), change.Kind, "not a row change");
        }
    }

    /// <summary>The key of a full row (insert or update values) as one string: equal strings name the same target row.</summary>
    public string KeyOf(IReadOnlyList<ChangeValue> values)
    {
        if (_keyPositions.Length == 1) return values[_keyPositions[0]].Text ?? "\u0001";
        var key = new StringBuilder();
        foreach (int p in _keyPositions) key.Append(values[p].Text ?? "\u0001").Append('\0');
        return key.ToString();
    }

    /// <summary>The key of an old key (deletes, key updates), comparable with <see cref="KeyOf"/>.</summary>
    public static string OldKeyOf(IReadOnlyList<ChangeValue> oldKey)
    {
        if (oldKey.Count == 1) return oldKey[0].Text ?? "\u0001";
        var key = new StringBuilder();
        foreach (var value in oldKey) key.Append(value.Text ?? "\u0001").Append('\0');
        return key.ToString();
    }

    /// <summary>Whether an update's values name another row than its old key (the key changed).</summary>
    public bool KeyChanged(RowChange change) => change.OldKey is { } old && !SameKey(old, change.NewValues!);

    /// <summary>Multi-row upserts of full rows (no unchanged values; each key once), <see cref="RowsPerStatement"/> rows a statement.</summary>
    public void AddGroupedUpserts(List<IReadOnlyList<ChangeValue>> rows, List<NpgsqlBatchCommand> into)
    {
        for (int start = 0; start < rows.Count; start += StatementRows(rows.Count - start))
        {
            int count = StatementRows(rows.Count - start);
            string? sql;
            lock (_groupedUpserts) _groupedUpserts.TryGetValue(count, out sql);
            if (sql is null)
            {
                var text = new StringBuilder(_insertHead);
                for (int r = 0; r < count; r++) text.Append(r == 0 ? "" : ", ").Append(RowPlaceholders(r * _casts.Length + 1, _casts.Length));
                sql = text.Append(_conflictTail).ToString();
                lock (_groupedUpserts) _groupedUpserts[count] = sql;
            }
            var command = new NpgsqlBatchCommand(sql);
            for (int r = start; r < start + count; r++)
                foreach (var value in rows[r]) command.Parameters.Add(Text(value));
            into.Add(command);
        }
    }

    /// <summary>Multi-key deletes (each key once), <see cref="RowsPerStatement"/> keys a statement.</summary>
    public void AddGroupedDeletes(List<IReadOnlyList<ChangeValue>> keys, List<NpgsqlBatchCommand> into)
    {
        for (int start = 0; start < keys.Count; start += StatementRows(keys.Count - start))
        {
            int count = StatementRows(keys.Count - start);
            string? sql;
            lock (_groupedDeletes) _groupedDeletes.TryGetValue(count, out sql);
            if (sql is null)
            {
                int width = _keyPositions.Length;
                var text = new StringBuilder($"DELETE FROM {Target.Quoted} WHERE ");
                text.Append(width == 1 ? Names.Quote(Table.Columns[_keyPositions[0]].Name) : "(" + string.Join(", ", _keyPositions.Select(p => Names.Quote(Table.Columns[p].Name))) + ")");
                text.Append(" IN (");
                for (int r = 0; r < count; r++)
                {
                    if (r > 0) text.Append(", ");
                    if (width > 1) text.Append('(');
                    for (int k = 0; k < width; k++) text.Append(k == 0 ? "" : ", ").Append('$').Append(r * width + k + 1).Append(_casts[_keyPositions[k]]);
                    if (width > 1) text.Append(')');
                }
                sql = text.Append(')').ToString();
                lock (_groupedDeletes) _groupedDeletes[count] = sql;
            }
            var command = new NpgsqlBatchCommand(sql);
            for (int r = start; r < start + count; r++)
                foreach (var value in keys[r]) command.Parameters.Add(Text(value));
            into.Add(command);
        }
    }

    /// <summary>
    /// The rows of the next statement for <paramref name="remaining"/> rows: the largest power of two not above them
    /// (nor above <see cref="RowsPerStatement"/>). A batch of n rows goes out in at most log2(n) statements, and each
    /// shape's statement texts stay a handful (one per power of two) however many batch sizes the stream makes.
    /// </summary>
    private int StatementRows(int remaining)
    {
        int limit = Math.Min(remaining, RowsPerStatement);
        return 1 << (31 - System.Numerics.BitOperations.LeadingZeroCount((uint)limit));
    }

    private string RowPlaceholders(int first, int count)
    {
        var text = new StringBuilder("(");
        for (int i = 0; i < count; i++) text.Append(i == 0 ? "" : ", ").Append('$').Append(first + i).Append(_casts[i]);
        return text.Append(')').ToString();
    }

    /// <summary>Deletes up to <paramref name="limit"/> rows of the table, chosen by key (DSQL has no TRUNCATE and no ctid).</summary>
    public string TruncateChunk(int limit)
    {
        string key = string.Join(", ", Target.PrimaryKey.Select(Names.Quote));
        return $"DELETE FROM {Target.Quoted} WHERE ({key}) IN (SELECT {key} FROM {Target.Quoted} LIMIT {limit})";
    }

    private bool SameKey(IReadOnlyList<ChangeValue> oldKey, IReadOnlyList<ChangeValue> values)
    {
        if (oldKey.Count != _keyPositions.Length) return false;
        for (int k = 0; k < _keyPositions.Length; k++)
        {
            var now = values[_keyPositions[k]];
            if (now.IsUnchanged) continue; // a key column the update did not send: it kept its value
            if (!string.Equals(oldKey[k].Text, now.Text, StringComparison.Ordinal)) return false;
        }
        return true;
    }

    private NpgsqlBatchCommand Upsert(IReadOnlyList<ChangeValue> values)
    {
        var command = new NpgsqlBatchCommand(_upsert);
        foreach (var value in values) command.Parameters.Add(Text(value));
        return command;
    }

    private NpgsqlBatchCommand Delete(IReadOnlyList<ChangeValue> oldKey)
    {
        var command = new NpgsqlBatchCommand(_delete!);
        foreach (var value in oldKey) command.Parameters.Add(Text(value));
        return command;
    }

    /// <summary>UPDATE of the columns the change sent (unchanged TOAST values keep theirs), by the old key when it changed.</summary>
    private NpgsqlBatchCommand? PartialUpdate(IReadOnlyList<ChangeValue> values, IReadOnlyList<ChangeValue>? oldKey)
    {
        var command = new NpgsqlBatchCommand();
        var set = new List<string>();
        for (int i = 0; i < values.Count; i++)
        {
            if (values[i].IsUnchanged) continue;
            if (oldKey is null && Table.Columns[i].IsKey) continue; // the key stays: it is the condition
            command.Parameters.Add(Text(values[i]));
            set.Add($"{Names.Quote(Table.Columns[i].Name)} = ${command.Parameters.Count}{_casts[i]}");
        }
        if (set.Count == 0) return null; // nothing sent but the key: the row is as it was
        int first = command.Parameters.Count + 1;
        var key = oldKey ?? _keyPositions.Select(p => values[p]).ToList();
        foreach (var value in key) command.Parameters.Add(Text(value));
        command.CommandText = $"UPDATE {Target.Quoted} SET {string.Join(", ", set)} WHERE {KeyCondition(first)}";
        return command;
    }

    private string KeyCondition(int firstParameter)
        => string.Join(" AND ", _keyPositions.Select((p, k) => $"{Names.Quote(Table.Columns[p].Name)} = ${firstParameter + k}{_casts[p]}"));

    private long Estimate(IReadOnlyList<ChangeValue> values)
    {
        var row = new object?[values.Count];
        for (int i = 0; i < row.Length; i++) row[i] = values[i].Text;
        return _estimator.Estimate(row, new long[row.Length]);
    }

    private long EstimateKey(IReadOnlyList<ChangeValue> key)
    {
        var row = new object?[Table.Columns.Count];
        for (int k = 0; k < _keyPositions.Length && k < key.Count; k++) row[_keyPositions[k]] = key[k].Text;
        return _estimator.Estimate(row, new long[row.Length]);
    }

    private static NpgsqlParameter Text(ChangeValue value)
        => new() { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)value.Text ?? DBNull.Value };
}
