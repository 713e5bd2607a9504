namespace Dsql.Sync.Pipeline;

/// <summary>Reads and checks the <c>sink:</c> section; for a DSQL target the connector checks the settings too.</summary>
internal static class DsqlSinkReader
{
    public static DsqlSinkOptions? Read(PipelineSection section)
    {
        section.Secret("password");
        var type = section.Text("type", required: true, requiredBecause: "is required: set it to dsql.");
        if (type is not null && type != "dsql")
        {
            section.Refuse("type", type, "dsql (the only sink dsql-sync writes)");
        }

        var name = section.Text("name");
        var useIamAuth = section.Flag("use-iam-auth", fallback: true);
        var host = section.Text("host", required: true, requiredBecause: useIamAuth
            ? "is required: the cluster endpoint (<cluster id>.dsql.<region>.on.aws) or the 26-character cluster id."
            : "is required: the PostgreSQL server to write to.");
        var port = (int)section.Number("port", DsqlSinkOptions.DefaultPort, 1, 65535, "a port number (1-65535)", out _);
        var database = section.Text("database") ?? DsqlSinkOptions.DefaultDatabase;
        var region = section.Text("region");
        var username = section.Text("username", required: !useIamAuth,
            requiredBecause: "is required when use-iam-auth is false: the PostgreSQL role to write as.");
        var password = section.Text("password", required: !useIamAuth,
            requiredBecause: "is required when use-iam-auth is false: the password of the PostgreSQL role.");
        if (useIamAuth && password is not null)
        {
            section.Problem(section.PathOf("password"),
                "is only for a target without IAM (use-iam-auth: false). With IAM the password is an authentication token " +
                "the connector generates from AWS credentials; remove password, or set use-iam-auth: false for a PostgreSQL target.");
            password = null;
        }

        var maxPool = (int)section.Number("max-pool-size", DsqlSinkOptions.DefaultMaxPoolSize, 1, int.MaxValue,
            "a pool size of at least 1", out var maxValid);
        var minPool = (int)section.Number("min-pool-size", DsqlSinkOptions.DefaultMinPoolSize, 0, int.MaxValue,
            "a pool size of 0 or more", out var minValid);
        if (maxValid && minValid && minPool > maxPool)
        {
            section.Problem(section.PathOf("min-pool-size"),
                $"'{minPool}' is not accepted: expected at most sink.max-pool-size ({maxPool}).");
            minPool = Math.Min(DsqlSinkOptions.DefaultMinPoolSize, maxPool);
        }

        var lifetime = Milliseconds(section, "connection-max-lifetime-ms", null);
        var idle = Milliseconds(section, "connection-idle-timeout-ms", DsqlSinkOptions.DefaultConnectionIdleTimeoutMs)!.Value;
        var fullLoad = section.Flag("enable-full-load", fallback: true);
        var parallelism = (int)section.Number("parallelism", DsqlSinkOptions.DefaultParallelism, 1, int.MaxValue,
            "a number of parallel writers of at least 1", out var parallelismValid);
        if (parallelismValid && maxValid && parallelism > maxPool)
        {
            section.Problem(section.PathOf("parallelism"),
                $"'{parallelism}' is not accepted: expected at most sink.max-pool-size ({maxPool}), since each parallel writer holds a connection.");
            parallelism = DsqlSinkOptions.DefaultParallelism;
        }

        var hostAddress = section.Text("host-address");
        var rootCertificate = section.Text("root-certificate");
        if (!useIamAuth && rootCertificate is not null && !File.Exists(rootCertificate))
        {
            section.Refuse("root-certificate", rootCertificate, "the path of an existing PEM file");
        }

        var load = SinkLoadReader.Read(section);
        var poison = Cdc.PoisonBehavior.Stop;
        switch (section.Text("poison-behavior"))
        {
            case null or "stop":
                break;
            case "dead-letter":
                poison = Cdc.PoisonBehavior.DeadLetter;
                break;
            case { } other:
                section.Refuse("poison-behavior", other, "stop (the pipeline stops at a change DSQL refuses) or dead-letter (the change is recorded in dsql_sync_dead_letters and the pipeline goes on)");
                break;
        }
        section.RefuseUnread(FlinkOnly.Sink, _ => null);
        if (host is null)
        {
            return null;
        }

        var sink = new DsqlSinkOptions(name, host, port, database, useIamAuth, region, username, password, maxPool, minPool,
            lifetime, idle, fullLoad, parallelism, hostAddress, rootCertificate, load, poison);
        if (useIamAuth)
        {
            SinkConnectorSettings.Collect(sink, section);
        }

        return sink;
    }

    /// <summary>
    /// A duration written in milliseconds, as the seed writes them. The connector counts pool lifetimes in whole
    /// seconds, so the value must be a whole number of seconds: a multiple of 1000.
    /// </summary>
    private static TimeSpan? Milliseconds(PipelineSection section, string key, long? fallback)
    {
        const string Expectation = "milliseconds, a multiple of 1000 of at least 1000 (the pool counts whole seconds)";
        var ms = section.Number(key, -1, 1000, (long)int.MaxValue * 1000, Expectation, out var valid);
        if (valid && ms != -1 && ms % 1000 != 0)
        {
            section.Refuse(key, ms.ToString(System.Globalization.CultureInfo.InvariantCulture), Expectation);
            valid = false;
        }

        return valid && ms != -1 ? TimeSpan.FromMilliseconds(ms)
            : fallback is { } f ? TimeSpan.FromMilliseconds(f)
            : null;
    }
}
