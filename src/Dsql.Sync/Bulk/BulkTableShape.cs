using Dsql.Connector;
using Npgsql;

namespace Dsql.Sync.Bulk;

/// <summary>The primary key and secondary indexes of the target table: from the options, or read from the catalog.</summary>
internal sealed record BulkTableShape(IReadOnlyList<string> PrimaryKey, IReadOnlyList<IReadOnlyList<string>> Indexes)
{
    /// <summary>The primary key first (when there is one), then each secondary index: one entry per row each.</summary>
    public IReadOnlyList<IReadOnlyList<string>> AllIndexes
        => PrimaryKey.Count > 0 ? [PrimaryKey, .. Indexes] : Indexes;

    /// <summary>The data type name of each column of <paramref name="quotedTable"/>, for binary COPY.</summary>
    public static async Task<IReadOnlyDictionary<string, string>> ColumnTypesAsync(DsqlDataSource dataSource, string quotedTable, CancellationToken cancellationToken)
        => await dataSource.ExecuteInTransactionAsync<IReadOnlyDictionary<string, string>>(async (connection, token) =>
        {
            var types = new Dictionary<string, string>(StringComparer.Ordinal);
            // A domain column is written as its base type (the same binary form): the domain may be newer than the
            // types Npgsql loaded when the pool opened its first connection.
            await using var command = new NpgsqlCommand(
                "SELECT a.attname::text, format_type(CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END, NULL) " +
                "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = quotedTable });
            await using var reader = await command.ExecuteReaderAsync(token).ConfigureAwait(false);
            while (await reader.ReadAsync(token).ConfigureAwait(false)) types[reader.GetString(0)] = reader.GetString(1);
            return types;
        }, new DsqlTransactionOptions { ReadOnly = true }, cancellationToken).ConfigureAwait(false);

    public static async Task<BulkTableShape> ResolveAsync(DsqlDataSource dataSource, string quotedTable, DsqlBulkWriterOptions options, CancellationToken cancellationToken)
    {
        if (options.PrimaryKey is not null && options.Indexes is not null)
            return new(options.PrimaryKey.ToArray(), options.Indexes.Select(i => (IReadOnlyList<string>)i.ToArray()).ToArray());

        // One row per index column (key and included columns): pg_get_indexdef gives a column's name, or the
        // expression's text for an expression index.
        const string sql = """
            SELECT i.indexrelid::bigint, i.indisprimary, pg_get_indexdef(i.indexrelid, k.n, true)
            FROM pg_index i CROSS JOIN LATERAL generate_series(1, i.indnatts) AS k(n)
            WHERE i.indrelid = to_regclass($1)
            ORDER BY 1, k.n
            """;
        var read = await dataSource.ExecuteInTransactionAsync(async (connection, token) =>
        {
            await using (var exists = new NpgsqlCommand("SELECT to_regclass($1) IS NOT NULL", connection))
            {
                exists.Parameters.Add(new NpgsqlParameter { Value = quotedTable });
                if (!(bool)(await exists.ExecuteScalarAsync(token).ConfigureAwait(false))!)
                    throw new InvalidOperationException($"DsqlBulkWriterOptions.Table: table {quotedTable} does not exist (or is not visible on the search path).");
            }
            var indexes = new List<(long Id, bool Primary, List<string> Columns)>();
            await using var command = new NpgsqlCommand(sql, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = quotedTable });
            await using var reader = await command.ExecuteReaderAsync(token).ConfigureAwait(false);
            while (await reader.ReadAsync(token).ConfigureAwait(false))
            {
                long id = reader.GetInt64(0);
                if (indexes.Count == 0 || indexes[^1].Id != id) indexes.Add((id, reader.GetBoolean(1), []));
                indexes[^1].Columns.Add(Unquote(reader.GetString(2)));
            }
            return indexes;
        }, new DsqlTransactionOptions { ReadOnly = true }, cancellationToken).ConfigureAwait(false);

        IReadOnlyList<string> primaryKey = options.PrimaryKey?.ToArray()
            ?? read.Where(i => i.Primary).Select(i => i.Columns.ToArray()).FirstOrDefault() ?? [];
        IReadOnlyList<IReadOnlyList<string>> secondary = options.Indexes?.Select(i => (IReadOnlyList<string>)i.ToArray()).ToArray()
            ?? read.Where(i => !i.Primary).Select(i => (IReadOnlyList<string>)i.Columns.ToArray()).ToArray();
        return new(primaryKey, secondary);
    }

    private static string Unquote(string name)
        => name.Length >= 2 && name[0] == '"' && name[^1] == '"' ? name[1..^1].Replace("\"\"", "\"", StringComparison.Ordinal) : name;
}
