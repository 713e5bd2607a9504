namespace Dsql.Sync.Bulk;

/// <summary>How <see cref="DsqlBulkWriter"/> sends a chunk's rows (docs/loading.md, "Bulk writer", has the measurements).</summary>
public enum BulkWireFormat
{
    /// <summary>
    /// Multi-row <c>INSERT ... VALUES</c> with bind parameters (the default): every mode, and the column types are
    /// converted by the server as in any INSERT.
    /// </summary>
    MultiRowInsert,

    /// <summary>
    /// <c>COPY ... FROM STDIN (FORMAT BINARY)</c> inside the chunk's transaction: faster, but only for
    /// <see cref="BulkWriteMode.Insert"/> (COPY has no ON CONFLICT), and each value must be of the CLR type Npgsql
    /// writes for its column's type (no server-side conversion). DSQL documents each COPY as one transaction; that a
    /// COPY runs inside an explicit transaction with the checkpoint's INSERT is confirmed on the emulator only.
    /// </summary>
    BinaryCopy,
}
