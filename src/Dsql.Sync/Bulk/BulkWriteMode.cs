namespace Dsql.Sync.Bulk;

/// <summary>What <see cref="DsqlBulkWriter"/> does with a row whose key already exists in the table.</summary>
public enum BulkWriteMode
{
    /// <summary>Plain <c>INSERT</c>: a row whose key exists fails its chunk (23505), and the load stops.</summary>
    Insert,

    /// <summary><c>INSERT ... ON CONFLICT DO NOTHING</c>: a row whose key exists is skipped; the stored row is kept.</summary>
    InsertIgnore,

    /// <summary>
    /// <c>INSERT ... ON CONFLICT (primary key) DO UPDATE</c>: a row whose primary key exists replaces the stored
    /// values of the columns written. Two rows with the same key in one chunk fail that chunk (PostgreSQL cannot
    /// update one row twice in a statement): the input must not repeat a key.
    /// </summary>
    Upsert,
}
