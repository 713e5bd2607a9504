using Dsql.Connector;
using Dsql.Emulator.Tests.Infrastructure;
using Dsql.Sync.Cdc;
using Npgsql;

namespace Dsql.Sync.Tests;

/// <summary>Synthetic change streams and target reads for the change applier's tests.</summary>
internal static class ChangeApplierStreams
{
    public static ChangeTable Shape(string table, params (string Name, string Type, bool Key)[] columns)
        => new("public", table, columns.Select(c => new ChangeColumn(c.Name, c.Type, c.Key)).ToList());

    /// <summary>(id integer key, name text, note text).</summary>
    public static ChangeTable People(string table) => Shape(table, ("id", "integer", true), ("name", "text", false), ("note", "text", false));

    public static ChangeValue V(object? value) => new(value?.ToString());

    public static RowChange Insert(ChangeTable table, params object?[] values) => new(ChangeKind.Insert, table, values.Select(V).ToList(), null);

    public static RowChange Update(ChangeTable table, object?[] values, object? oldKey = null)
        => new(ChangeKind.Update, table, values.Select(v => v is ChangeValue c ? c : V(v)).ToList(), oldKey is null ? null : [V(oldKey)]);

    public static RowChange Delete(ChangeTable table, object key) => new(ChangeKind.Delete, table, null, [V(key)]);

    public static RowChange Truncate(ChangeTable table) => new(ChangeKind.Truncate, table, null, null);

    public static SourceTransaction Transaction(ulong lsn, params RowChange[] changes)
        => new(lsn, DateTimeOffset.UtcNow, (uint)lsn, changes);

    public static async IAsyncEnumerable<SourceTransaction> Stream(IEnumerable<SourceTransaction> transactions)
    {
        foreach (var transaction in transactions)
        {
            await Task.Yield();
            yield return transaction;
        }
    }

    public static DsqlChangeApplier Applier(DsqlDataSource dataSource, string pipeline, Action<DsqlChangeApplierOptions>? configure = null)
    {
        var options = new DsqlChangeApplierOptions
        {
            PipelineId = pipeline,
            PositionTable = EmulatorConnections.UniqueName("positions"),
            DeadLetterTable = EmulatorConnections.UniqueName("dead_letters"),
        };
        configure?.Invoke(options);
        return new DsqlChangeApplier(dataSource, options);
    }

    /// <summary>Every row of <paramref name="table"/> as text, ordered by its first column.</summary>
    public static async Task<List<string>> RowsAsync(DsqlDataSource dataSource, string table, string columns = "id, name, note")
        => await dataSource.ExecuteInTransactionAsync(async (connection, token) =>
        {
            var rows = new List<string>();
            await using var command = new NpgsqlCommand($"SELECT concat_ws('|', {string.Join(", ", columns.Split(',').Select(c => $"coalesce({c.Trim()}::text, '-')"))}) FROM {table} ORDER BY 1", connection);
            await using var reader = await command.ExecuteReaderAsync(token);
            while (await reader.ReadAsync(token)) rows.Add(reader.GetString(0));
            rows.Sort(StringComparer.Ordinal);
            return rows;
        }, new DsqlTransactionOptions { ReadOnly = true });
}
