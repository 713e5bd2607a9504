using Dsql.Connector;
using Dsql.Sync.Bulk;
using Npgsql;
using Names = Dsql.Sync.Schema.SqlNames;

namespace Dsql.Sync.Cdc;

/// <summary>A DSQL table as the applier sees it: its columns with their types (<c>format_type</c>), its primary key and indexes.</summary>
internal sealed class ChangeTarget
{
    private ChangeTarget(string schema, string name, IReadOnlyDictionary<string, string> columnTypes, BulkTableShape shape)
    {
        Schema = schema;
        Name = name;
        Quoted = Names.Quote(schema) + "." + Names.Quote(name);
        ColumnTypes = columnTypes;
        PrimaryKey = shape.PrimaryKey;
        Indexes = shape.AllIndexes;
    }

    public string Schema { get; }
    public string Name { get; }
    public string Quoted { get; }

    /// <summary>Column name to its type as <c>format_type</c> writes it (domains by their own name: a cast checks them).</summary>
    public IReadOnlyDictionary<string, string> ColumnTypes { get; }

    public IReadOnlyList<string> PrimaryKey { get; }

    /// <summary>The primary key first, then each secondary index (for the byte estimate).</summary>
    public IReadOnlyList<IReadOnlyList<string>> Indexes { get; }

    public override string ToString() => Schema + "." + Name;

    /// <summary>Reads the table from the catalog; null when it does not exist.</summary>
    public static async Task<ChangeTarget?> LoadAsync(DsqlDataSource dataSource, string schema, string name, DsqlTransactionOptions options, CancellationToken cancellationToken)
    {
        string quoted = Names.Quote(schema) + "." + Names.Quote(name);
        var columns = await dataSource.ExecuteInTransactionAsync(async (connection, token) =>
        {
            var types = new Dictionary<string, string>(StringComparer.Ordinal);
            await using var command = new NpgsqlCommand(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a " +
                "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = quoted });
            await using var reader = await command.ExecuteReaderAsync(token).ConfigureAwait(false);
            while (await reader.ReadAsync(token).ConfigureAwait(false)) types[reader.GetString(0)] = reader.GetString(1);
            return types;
        }, new DsqlTransactionOptions { ReadOnly = true, MaxRetries = options.MaxRetries, Timeout = options.Timeout }, cancellationToken).ConfigureAwait(false);
        if (columns.Count == 0) return null;
        var shape = await BulkTableShape.ResolveAsync(dataSource, quoted, new DsqlBulkWriterOptions(), cancellationToken).ConfigureAwait(false);
        return new ChangeTarget(schema, name, columns, shape);
    }
}
