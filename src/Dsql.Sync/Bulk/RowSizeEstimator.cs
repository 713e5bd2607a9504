using System.Text;
using Dsql.Connector;

namespace Dsql.Sync.Bulk;

/// <summary>
/// An upper estimate of the bytes DSQL counts for one row against its 10 MiB per transaction: the row's stored size
/// (a tuple header, each value at its stored width with a 4-byte length for variable-length values and up to 8 bytes
/// of alignment) plus, for the primary key and for each secondary index, one entry holding that index's columns.
/// </summary>
internal sealed class RowSizeEstimator
{
    private const int RowHeader = 32;
    private const int PerValue = 8;   // alignment padding, at most
    private const int IndexEntryHeader = 16;

    private readonly int[][] _indexColumns; // per index (the primary key first), the positions of its columns; -1 for an expression
    public RowSizeEstimator(IReadOnlyList<string> columns, IReadOnlyList<IReadOnlyList<string>> indexes)
    {
        _indexColumns = indexes.Select(index => index.Select(name => IndexOf(columns, name)).ToArray()).ToArray();
    }

    public int IndexCount => _indexColumns.Length;

    public long Estimate(object?[] row, Span<long> scratch)
    {
        long total = RowHeader;
        for (int i = 0; i < row.Length; i++)
        {
            scratch[i] = ValueBytes(row[i]);
            total += scratch[i] + PerValue;
        }
        foreach (int[] index in _indexColumns)
        {
            long key = IndexEntryHeader;
            foreach (int position in index) key += position < 0 ? DsqlQuotas.MaxKeyBytes : scratch[position] + PerValue;
            // DSQL refuses a key over 1 KiB, so no index entry that commits is larger.
            total += Math.Min(key, DsqlQuotas.MaxKeyBytes + IndexEntryHeader);
        }
        return total;
    }

    public static long ValueBytes(object? value) => value switch
    {
        null or DBNull => 0,
        bool or byte or sbyte => 1,
        short or ushort => 2,
        int or uint or float => 4,
        long or ulong or double or DateTime or DateTimeOffset or TimeSpan or TimeOnly => 8,
        DateOnly => 4,
        decimal => 24,
        Guid => 16,
        string s => 4 + Encoding.UTF8.GetByteCount(s),
        char[] c => 4 + Encoding.UTF8.GetByteCount(c),
        char => 4 + 4,
        byte[] b => 4 + b.Length,
        ReadOnlyMemory<byte> m => 4 + m.Length,
        System.Numerics.BigInteger n => 8 + n.GetByteCount(),
        _ => 4 + Encoding.UTF8.GetByteCount(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? ""),
    };

    private static int IndexOf(IReadOnlyList<string> columns, string name)
    {
        for (int i = 0; i < columns.Count; i++)
            if (string.Equals(columns[i], name, StringComparison.Ordinal)) return i;
        return -1; // an expression or a column not written: counted at the largest key DSQL accepts
    }
}
