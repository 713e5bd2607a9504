namespace Dsql.Sync.Pipeline;

/// <summary>
/// Options that Flink CDC knows but dsql-sync does not use, with the reason given when a file sets one: a file
/// written for Flink CDC gets a precise refusal instead of "unknown key".
/// </summary>
internal static class FlinkOnly
{
    private const string ChangeCapture = "dsql-sync run manages change capture itself (slot.name, publication.name and decoding.plugin.name: pgoutput are its keys)";
    private const string SeedBatching = "the seed's change-event batching; dsql-sync sizes its chunks from DSQL's transaction limits";

    public static readonly IReadOnlyDictionary<string, string> Source = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["tables"] = "write the tables as schema-name and table-name",
        ["changelog-mode"] = ChangeCapture,
        ["heartbeat.interval"] = ChangeCapture,
        ["server-time-zone"] = "timestamps are copied as PostgreSQL stores them",
    };

    public static readonly IReadOnlyDictionary<string, string> Sink = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["iam-role"] = "credentials come from the default AWS chain (environment, profile, instance role); set AWS_PROFILE or a profile's role_arn",
        ["batch-size"] = SeedBatching,
        ["batch-timeout"] = SeedBatching,
        ["batch-max-pool-size"] = SeedBatching + " and use one pool (max-pool-size)",
        ["batch-min-pool-size"] = SeedBatching + " and use one pool (min-pool-size)",
        ["include.schema.changes"] = "schema changes are not replayed",
        ["exclude.schema.changes"] = "schema changes are not replayed",
    };

    public static readonly IReadOnlyDictionary<string, string> Pipeline = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["local-time-zone"] = "timestamps are copied as PostgreSQL stores them",
        ["execution.runtime-mode"] = "dsql-sync runs no Flink job",
        ["user-defined-function"] = "dsql-sync runs no Flink job",
        ["model"] = "dsql-sync runs no Flink job",
    };

    /// <summary>The reason for Flink CDC source options known by their prefix (<c>scan.*</c>, <c>debezium.*</c>, ...).</summary>
    public static string? SourceByPrefix(string key) =>
        key.StartsWith("scan.", StringComparison.Ordinal) ? "it tunes Flink's snapshot reader; dsql-sync reads tables itself"
        : key.StartsWith("debezium.", StringComparison.Ordinal) ? ChangeCapture
        : key.StartsWith("connect.", StringComparison.Ordinal) ? "it tunes Flink's JDBC connections; use an Npgsql-compatible server setting instead"
        : key.StartsWith("chunk-meta.", StringComparison.Ordinal) ? "it tunes Flink's snapshot reader; dsql-sync reads tables itself"
        : null;
}
