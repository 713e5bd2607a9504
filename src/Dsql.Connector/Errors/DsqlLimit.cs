namespace Dsql.Connector;

/// <summary>
/// The Aurora DSQL quota that a statement, transaction or connection attempt ran into
/// (see <see cref="DsqlLimitExceededException.Limit"/>). Values are DSQL's published defaults.
/// </summary>
public enum DsqlLimit
{
    /// <summary>Rows modified (inserted, updated or deleted) by one transaction: at most 3,000 (SQLSTATE 54000).</summary>
    RowsPerTransaction,

    /// <summary>Data modified by one write transaction: at most 10 MiB (SQLSTATE 54000).</summary>
    TransactionSize,

    /// <summary>Duration of one transaction: at most 300 seconds, after which DSQL ends it (SQLSTATE 54000).</summary>
    TransactionAge,

    /// <summary>
    /// New connections per cluster: 100 per second steady, with a burst of 1,000 (the bucket refills at 100 per
    /// second) (SQLSTATE 53400).
    /// </summary>
    ConnectionRate,

    /// <summary>Open connections per cluster: at most 10,000 (SQLSTATE 53300).</summary>
    OpenConnections,

    /// <summary>Memory (temporary space) one query may use: at most 128 MiB (SQLSTATE 53200).</summary>
    QueryMemory,

    /// <summary>Size of one row: at most 2 MiB (SQLSTATE 54000).</summary>
    RowSize,

    /// <summary>Size of one non-key column value: at most 1 MiB (SQLSTATE 54000).</summary>
    ColumnSize,

    /// <summary>Size of one key (primary key or index key): at most 1 KiB (SQLSTATE 54000).</summary>
    KeySize,

    /// <summary>Columns in one table: at most 255 (SQLSTATE 54011).</summary>
    ColumnsPerTable,

    /// <summary>Columns in one index: at most 8 (SQLSTATE 54011).</summary>
    ColumnsPerIndex,

    /// <summary>Another limit (SQLSTATE class 54, program limit exceeded); the server's message says which.</summary>
    Other,
}
