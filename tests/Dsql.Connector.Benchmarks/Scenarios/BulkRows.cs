using System.Globalization;
using System.Runtime.CompilerServices;
using Dsql.Sync.Bulk;

namespace Dsql.Connector.Benchmarks.Scenarios;

/// <summary>
/// The rows of the bulk scenario, in the shape (int key, bigint, text of about 40 bytes, numeric(12,2),
/// timestamptz, bool), generated one at a time by a streaming <see cref="IAsyncEnumerable{T}"/>: a load of any size
/// holds only the rows its writer has in flight.
/// </summary>
internal static class BulkRows
{
    /// <summary>The target table's DDL (DSQL accepts it as is); the key is the only index.</summary>
    public const string CreateTable =
        "CREATE TABLE lab_bulk (id integer PRIMARY KEY, b bigint NOT NULL, t text NOT NULL, n numeric(12,2) NOT NULL, ts timestamptz NOT NULL, f boolean NOT NULL)";

    public const string Table = "lab_bulk";

    public const string ColumnList = "id, b, t, n, ts, f";

    /// <summary>The COPY statement of the raw baseline (and of the writer's own form).</summary>
    public const string CopySql = "COPY lab_bulk (id, b, t, n, ts, f) FROM STDIN (FORMAT BINARY)";

    private static readonly DateTime Epoch = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>One row; a class, as a reader of a source database would hand out.</summary>
    internal sealed record Row(int Id, long Big, string Text, decimal Amount, DateTime At, bool Flag);

    /// <summary>The writer's column map for <see cref="Row"/>.</summary>
    public static BulkColumnMap<Row> Map => new()
    {
        { "id", r => r.Id },
        { "b", r => r.Big },
        { "t", r => r.Text },
        { "n", r => r.Amount },
        { "ts", r => r.At },
        { "f", r => r.Flag },
    };

    /// <summary>Row number <paramref name="i"/>: the same values every time, a 40-character text.</summary>
    public static Row Make(int i) => new(
        i,
        i * 7_919L,
        string.Create(CultureInfo.InvariantCulture, $"bulk lab row {i:D10}, some forty bytes"),
        (i % 1_000_000_000) / 100m,
        Epoch.AddSeconds(i),
        (i & 1) == 0);

    /// <summary>Rows <paramref name="first"/> to <paramref name="first"/> + <paramref name="count"/> - 1, made as they are read.</summary>
    public static async IAsyncEnumerable<Row> GenerateAsync(int first, int count, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (int i = first; i < first + count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // Yield to the scheduler now and then, as a reader of a socket would; otherwise the producer never awaits.
            if ((i & 4095) == 0) await Task.Yield();
            yield return Make(i);
        }
    }
}
