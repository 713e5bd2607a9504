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

    public ChangeStatements(ChangeTable table, ChangeTarget target)
    {
        Table = table;
        Target = target;
        var columns = table.Columns;
        _casts = columns.Select(c => "::" + target.ColumnTypes[c.Name]).ToArray();
        _keyPositions = Enumerable.Range(0, columns.Count).Where(i => columns[i].IsKey).ToArray();
        _estimator = new RowSizeEstimator(columns.Select(c => c.Name).ToArray(), target.Indexes);

        string names = string.Join(", ", columns.Select(c => Names.Quote(c.Name)));
        string values = string.Join(", ", columns.Select((c, i) => "$" + (i + 1) + _casts[i]));
        var insert = new StringBuilder($"INSERT INTO {target.Quoted} ({names}) VALUES ({values})");
        if (target.PrimaryKey.Count > 0)
        {
            var others = columns.Where(c => !target.PrimaryKey.Contains(c.Name, StringComparer.Ordinal)).Select(c => Names.Quote(c.Name) + " = EXCLUDED." + Names.Quote(c.Name)).ToList();
            insert.Append(" ON CONFLICT (").Append(string.Join(", ", target.PrimaryKey.Select(Names.Quote))).Append(')');
            insert.Append(others.Count == 0 ? " DO NOTHING" : " DO UPDATE SET " + string.Join(", ", others));
        }
        _upsert = insert.ToString();
        if (_keyPositions.Length > 0) _delete = $"DELETE FROM {target.Quoted} WHERE {KeyCondition(1)}";
    }

    public ChangeTable Table { get; }
    public ChangeTarget Target { get; }

    /// <summary>Whether updates and deletes can be applied: the source sends a key and the target has one to conflict on.</summary>
    public string? CannotUpdateOrDelete
        => _keyPositions.Length == 0 ? $"the source table {Table} sends no key (replica identity): DSQL needs a key to apply updates and deletes"
        : Target.PrimaryKey.Count == 0 ? $"the DSQL table {Target} has no primary key: DSQL needs a key to apply updates and deletes"
        : null;

    /// <summary>The statements applying <paramref name="change"/> (an insert, update or delete), the rows they modify and their estimated bytes.</summary>
    public (List<NpgsqlBatchCommand> Commands, int Rows, long Bytes) Build(RowChange change)
    {
        var commands = new List<NpgsqlBatchCommand>(2);
        switch (change.Kind)
        {
            case ChangeKind.Insert:
                commands.Add(Upsert(change.NewValues!));
                return (commands, 1, Estimate(change.NewValues!));
            case ChangeKind.Delete:
                commands.Add(Delete(change.OldKey!));
                return (commands, 1, EstimateKey(change.OldKey!));
            case ChangeKind.Update:
                var values = change.NewValues!;
                bool keyChanged = change.OldKey is { } old && !SameKey(old, values);
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
                return (commands, keyChanged ? 2 : 1, Estimate(values) + (keyChanged ? EstimateKey(change.OldKey!) : 0));
            default:
                throw new ArgumentOutOfRangeException(nameof(change), change.Kind, "not a row change");
        }
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
