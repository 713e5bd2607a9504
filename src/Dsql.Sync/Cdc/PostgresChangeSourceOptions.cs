namespace Dsql.Sync.Cdc;

/// <summary>
/// Settings of a <see cref="PostgresChangeSource"/>: the source database, the publication and slot to create or reuse,
/// and the tables to stream. Plain data; <see cref="PostgresChangeSource"/> copies and checks them when created.
/// </summary>
public sealed class PostgresChangeSourceOptions
{
    /// <summary>The default of <see cref="StatusInterval"/>: PostgreSQL's own <c>wal_receiver_status_interval</c>.</summary>
    public static readonly TimeSpan DefaultStatusInterval = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Npgsql connection string of the source database (host, port, database, user, password). The role needs the
    /// REPLICATION attribute; <see cref="PostgresChangeSource.CheckAsync"/> says what else it needs. Required.
    /// </summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>
    /// The publication that selects the streamed tables. Created <c>FOR TABLE</c> <see cref="Tables"/> when missing;
    /// tables missing from an existing one are added. Required.
    /// </summary>
    public string PublicationName { get; set; } = "";

    /// <summary>
    /// The logical replication slot (plugin <c>pgoutput</c>): lower-case letters, digits and <c>_</c>, at most 63
    /// characters. Created when missing; an existing one is reused and streaming resumes from its confirmed position.
    /// Required.
    /// </summary>
    public string SlotName { get; set; } = "";

    /// <summary>The tables to stream, each <c>schema.table</c> (unquoted, as in the catalog; a name without a schema means <c>public</c>). At least one.</summary>
    public IList<string> Tables { get; } = new List<string>();

    /// <summary>
    /// How often an idle stream confirms its position to the server (an <see cref="PostgresChangeSource.Acknowledge"/>
    /// is sent at once). Default <see cref="DefaultStatusInterval"/>, as PostgreSQL's own subscribers; keep it under
    /// the server's <c>wal_sender_timeout</c> (60 s by default).
    /// </summary>
    public TimeSpan StatusInterval { get; set; } = DefaultStatusInterval;

    /// <summary>
    /// The pipeline this source feeds, for the <c>dsql.sync.pipeline</c> tag of its metrics (set it to the applier's
    /// <see cref="DsqlChangeApplierOptions.PipelineId"/> to read both sides together). Default: the slot's name.
    /// </summary>
    public string? PipelineId { get; set; }
}
