using System.Collections.Concurrent;
using System.Text;

namespace Dsql.Sync.Bulk;

/// <summary>
/// The multi-row INSERT statements of one load: <c>INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) [ON CONFLICT ...]</c>,
/// with as many rows per statement as the parameter limit allows; the text for each row count is built once.
/// </summary>
internal sealed class InsertStatements
{
    private readonly string _copy;
    private readonly string _prefix;
    private readonly string _suffix;
    private readonly int _columns;
    private readonly ConcurrentDictionary<int, string> _byRowCount = new();

    public InsertStatements(string quotedTable, IReadOnlyList<string> columns, BulkWriteMode mode, IReadOnlyList<string> primaryKey, int maxParameters, int maxRows = DsqlBulkWriterOptions.DsqlMaxRowsPerTransaction)
    {
        _columns = columns.Count;
        RowsPerStatement = Math.Min(maxRows, maxParameters / columns.Count);
        _copy = $"COPY {quotedTable} ({string.Join(", ", columns.Select(SqlNames.Quote))}) FROM STDIN (FORMAT BINARY)";
        _prefix = $"INSERT INTO {quotedTable} ({string.Join(", ", columns.Select(SqlNames.Quote))}) VALUES ";
        _suffix = mode switch
        {
            BulkWriteMode.InsertIgnore => " ON CONFLICT DO NOTHING",
            BulkWriteMode.Upsert => UpsertClause(columns, primaryKey),
            _ => "",
        };
    }

    /// <summary>The most rows one statement carries: the row cap, and its parameters within the limit.</summary>
    public int RowsPerStatement { get; }

    /// <summary>With binary COPY: the data type name of each column, in column order; null for INSERT.</summary>
    public string[]? CopyTypes { get; private set; }

    /// <summary>The COPY statement of binary COPY.</summary>
    public string CopySql => _copy;

    public void UseBinaryCopy(string[] types) => CopyTypes = types;

    public string Sql(int rows) => _byRowCount.GetOrAdd(rows, Build);

    private string Build(int rows)
    {
        var sql = new StringBuilder(_prefix.Length + _suffix.Length + rows * _columns * 8);
        sql.Append(_prefix);
        int parameter = 1;
        for (int r = 0; r < rows; r++)
        {
            sql.Append(r == 0 ? "(" : ", (");
            for (int c = 0; c < _columns; c++)
            {
                if (c > 0) sql.Append(", ");
                sql.Append('$').Append(parameter++);
            }
            sql.Append(')');
        }
        return sql.Append(_suffix).ToString();
    }

    private static string UpsertClause(IReadOnlyList<string> columns, IReadOnlyList<string> primaryKey)
    {
        string conflict = $" ON CONFLICT ({string.Join(", ", primaryKey.Select(SqlNames.Quote))})";
        var updated = columns.Where(c => !primaryKey.Contains(c, StringComparer.Ordinal)).ToArray();
        return updated.Length == 0
            ? conflict + " DO NOTHING"
            : conflict + " DO UPDATE SET " + string.Join(", ", updated.Select(c => $"{SqlNames.Quote(c)} = EXCLUDED.{SqlNames.Quote(c)}"));
    }
}
