namespace Dsql.Emulator.Rules;

/// <summary>
/// DSQL fails a transaction whose tables changed shape under it (a DDL committed after its snapshot) with 40001 OC001.
/// The emulator counts committed DDL statements (<see cref="Epoch"/>); a transaction that began before the count moved
/// runs <see cref="Sql"/> inside itself before its COMMIT: any row returned means a table it used changed.
/// </summary>
/// <remarks>
/// The check looks at the relations the transaction holds locks on: their <c>pg_class</c> and <c>pg_attribute</c> rows
/// as the transaction's snapshot sees them were replaced (xmax set) by a transaction that has committed since; that is,
/// a DDL committed after the snapshot. Not detected: a DDL that waited for this transaction's locks (PostgreSQL makes
/// the DDL wait, it fails after the lock timeout with 40001 OC000 instead), and DDL run outside the emulator.
/// </remarks>
internal sealed class SchemaChangeCheck
{
    private long _epoch;

    /// <summary>How many DDL request groups have completed through the emulator.</summary>
    public long Epoch => Interlocked.Read(ref _epoch);

    /// <summary>A DDL statement completed.</summary>
    public void OnDdlCompleted() => Interlocked.Increment(ref _epoch);

    /// <summary>The check, run inside the transaction before its COMMIT. Its filters keep pg_xact_status between the snapshot's oldest xid and the newest one (this transaction's own, assigned by the check), where it cannot fail.</summary>
    public const string Sql = """
        SELECT 1 FROM pg_catalog.pg_locks l
        WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'relation' AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
          AND (EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = l.relation AND c.xmax <> '0'::xid
                       AND c.xmax::text::xid8 >= pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())
                       AND c.xmax::text::xid8 < pg_catalog.pg_current_xact_id()
                       AND pg_catalog.pg_xact_status(c.xmax::text::xid8) = 'committed')
            OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = l.relation AND a.xmax <> '0'::xid
                       AND a.xmax::text::xid8 >= pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())
                       AND a.xmax::text::xid8 < pg_catalog.pg_current_xact_id()
                       AND pg_catalog.pg_xact_status(a.xmax::text::xid8) = 'committed'))
        LIMIT 1
        """;
}
