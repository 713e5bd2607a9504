using Dsql.Sync.Pipeline;
using static Dsql.Sync.Tests.PipelineYaml;

namespace Dsql.Sync.Tests;

public sealed class PipelineFileTests
{
    private static PipelineFileException Refused(string yaml) =>
        Assert.Throws<PipelineFileException>(() => PipelineDefinition.Parse(yaml, "test.yaml"));

    private static string[] PathsOf(PipelineFileException ex) => ex.Problems.Select(p => p.Path).ToArray();

    [Fact]
    public void The_seed_example_verbatim_is_refused_only_where_real_DSQL_would_refuse_it()
    {
        var ex = Refused(SeedExample);

        // The seed's example names a host that is no DSQL endpoint, a database DSQL cannot have, and a lifetime that
        // leaves no room for a 5-minute transaction before DSQL's 60-minute limit: the connector refuses all three.
        Assert.Equal(["sink.host", "sink.database", "sink.connection-max-lifetime-ms"], PathsOf(ex));
        Assert.Contains("'my-dsql-cluster.amazonaws.com' is refused by Dsql.Connector", ex.Message);
        Assert.Contains("'my_database' is refused by Dsql.Connector", ex.Message);
        Assert.Contains("'3540000' is refused by Dsql.Connector", ex.Message);
        Assert.StartsWith("The pipeline file test.yaml has 3 problems:", ex.Message);
    }

    [Fact]
    public void The_seed_example_with_a_DSQL_endpoint_parses_with_the_seeds_defaults()
    {
        var yaml = SeedExample
            .Replace("my-dsql-cluster.amazonaws.com", "abcdefghijklmnopqrstuvwxyz.dsql.us-west-2.on.aws", StringComparison.Ordinal)
            .Replace("  database: my_database\n", "", StringComparison.Ordinal)
            .Replace("  connection-max-lifetime-ms: 3540000  # 59 minutes\n", "", StringComparison.Ordinal);

        var definition = PipelineDefinition.Parse(yaml);

        Assert.Equal("localhost", definition.Source.Hostname);
        Assert.Equal(5432, definition.Source.Port);
        Assert.Equal("postgres", definition.Source.Username);
        Assert.Equal("postgres", definition.Source.Password);
        Assert.Equal("postgres", definition.Source.DatabaseName);
        Assert.Equal(["public"], definition.Source.Tables.SchemaPatterns);
        Assert.Equal(["orders", "products", "customers"], definition.Source.Tables.TablePatterns);
        var sink = definition.Sink;
        Assert.Equal("abcdefghijklmnopqrstuvwxyz.dsql.us-west-2.on.aws", sink.Host);
        Assert.Equal("postgres", sink.Database);
        Assert.True(sink.UseIamAuth);
        Assert.Equal("us-west-2", sink.Region);
        Assert.Equal(10, sink.MaxPoolSize);
        Assert.Equal(2, sink.MinPoolSize);
        Assert.Null(sink.ConnectionMaxLifetime);
        Assert.Equal(TimeSpan.FromMinutes(5), sink.ConnectionIdleTimeout);
        Assert.True(sink.EnableFullLoad);
        Assert.Equal(4, sink.Parallelism);
        Assert.Equal("PostgreSQL to DSQL Pipeline", definition.Pipeline.Name);
        Assert.Equal(2, definition.Pipeline.Parallelism);
    }

    [Fact]
    public void Absent_options_take_the_seeds_defaults()
    {
        var definition = PipelineDefinition.Parse(Minimal());

        Assert.Equal(PostgresSourceOptions.DefaultPort, definition.Source.Port);
        Assert.Null(definition.Source.Password);
        Assert.Null(definition.Source.Name);
        var sink = definition.Sink;
        Assert.Equal(5432, sink.Port);
        Assert.Equal("postgres", sink.Database);
        Assert.True(sink.UseIamAuth);
        Assert.Null(sink.Region);
        Assert.Null(sink.Username);
        Assert.Null(sink.Password);
        Assert.Equal(10, sink.MaxPoolSize);
        Assert.Equal(2, sink.MinPoolSize);
        Assert.Null(sink.ConnectionMaxLifetime);
        Assert.Equal(TimeSpan.FromMilliseconds(300_000), sink.ConnectionIdleTimeout);
        Assert.True(sink.EnableFullLoad);
        Assert.Equal(1, sink.Parallelism);
        Assert.Null(sink.HostAddress);
        Assert.Null(sink.RootCertificate);
        Assert.Null(definition.Pipeline.Name);
        Assert.Equal(1, definition.Pipeline.Parallelism);
    }

    [Fact]
    public void Every_key_is_read_and_reaches_the_connector_settings()
    {
        var certificate = Path.GetTempFileName();
        try
        {
            var definition = PipelineDefinition.Parse(Minimal(
                ("source.name", "Shop"), ("source.port", "6432"), ("source.password", "s3cret-source"),
                ("source.schema-name", "public,sales"), ("source.table-name", "\n    - orders\n    - 'line_[0-9]+'"),
                ("sink.name", "DSQL"), ("sink.port", "15432"), ("sink.database", "postgres"), ("sink.use-iam-auth", "true"),
                ("sink.region", "us-east-1"), ("sink.username", "loader"), ("sink.max-pool-size", "20"),
                ("sink.min-pool-size", "3"), ("sink.connection-max-lifetime-ms", "1800000"),
                ("sink.connection-idle-timeout-ms", "60000"), ("sink.enable-full-load", "false"), ("sink.parallelism", "8"),
                ("sink.host-address", "127.0.0.1"), ("sink.root-certificate", certificate),
                ("pipeline.name", "nightly"), ("pipeline.parallelism", "3")));

            var source = definition.Source;
            Assert.Equal("Shop", source.Name);
            Assert.Equal(6432, source.Port);
            Assert.Equal("s3cret-source", source.Password);
            Assert.Equal(["public", "sales"], source.Tables.SchemaPatterns);
            Assert.Equal(["orders", "line_[0-9]+"], source.Tables.TablePatterns);
            var sink = definition.Sink;
            Assert.Equal("DSQL", sink.Name);
            Assert.False(sink.EnableFullLoad);
            Assert.Equal(8, sink.Parallelism);
            Assert.Equal("nightly", definition.Pipeline.Name);
            Assert.Equal(3, definition.Pipeline.Parallelism);

            var settings = sink.ToConnectorSettings();
            Assert.Equal(Endpoint, settings.Host);
            Assert.Equal(15432, settings.Port);
            Assert.Equal("postgres", settings.Database);
            Assert.Equal("us-east-1", settings.Region);
            Assert.Equal("loader", settings.Username);
            Assert.Equal(20, settings.MaxPoolSize);
            Assert.Equal(3, settings.MinPoolSize);
            Assert.Equal(TimeSpan.FromMinutes(30), settings.ConnectionLifetime);
            Assert.Equal(TimeSpan.FromMinutes(1), settings.ConnectionIdleLifetime);
            Assert.Equal("127.0.0.1", settings.HostAddress);
            Assert.Equal(certificate, settings.RootCertificate);
            settings.Validate();
            Assert.Throws<InvalidOperationException>(() => sink.ToNpgsqlSettings());
        }
        finally
        {
            File.Delete(certificate);
        }
    }

    [Fact]
    public void The_source_becomes_an_Npgsql_connection_string()
    {
        var source = PipelineDefinition.Parse(Minimal(("source.port", "6432"), ("source.password", "pw"))).Source;

        var settings = source.ToNpgsqlSettings();

        Assert.Equal("db.example.com", settings.Host);
        Assert.Equal(6432, settings.Port);
        Assert.Equal("shop", settings.Database);
        Assert.Equal("loader", settings.Username);
        Assert.Equal("pw", settings.Password);
        Assert.Equal("dsql-sync", settings.ApplicationName);
        Assert.DoesNotContain("pw", source.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_target_without_IAM_needs_a_username_and_password_and_becomes_Npgsql_settings()
    {
        var missing = Refused(Minimal(("sink.use-iam-auth", "false"), ("sink.host", "localhost")));
        Assert.Equal(["sink.username", "sink.password"], PathsOf(missing));

        var sink = PipelineDefinition.Parse(Minimal(("sink.use-iam-auth", "false"), ("sink.host", "pg.internal"),
            ("sink.database", "target"), ("sink.username", "writer"), ("sink.password", "hunter2"),
            ("sink.connection-max-lifetime-ms", "600000"), ("sink.host-address", "10.0.0.5"))).Sink;

        var settings = sink.ToNpgsqlSettings();
        Assert.Equal("10.0.0.5", settings.Host);
        Assert.Equal("target", settings.Database);
        Assert.Equal("writer", settings.Username);
        Assert.Equal("hunter2", settings.Password);
        Assert.Equal(10, settings.MaxPoolSize);
        Assert.Equal(2, settings.MinPoolSize);
        Assert.Equal(600, settings.ConnectionLifetime);
        Assert.Equal(300, settings.ConnectionIdleLifetime);
        Assert.Throws<InvalidOperationException>(() => sink.CreateDataSourceBuilder());
        Assert.DoesNotContain("hunter2", sink.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("source.type", "mysql", "'mysql' is not accepted: expected postgres")]
    [InlineData("source.port", "0", "'0' is not accepted: expected a port number (1-65535)")]
    [InlineData("source.port", "five", "'five' is not accepted: expected a port number (1-65535)")]
    [InlineData("source.hostname", "\n    - a\n    - b", "is a list at line")]
    [InlineData("source.table-name", "orders,,items", "is empty")]
    [InlineData("source.table-name", "'orders('", "'orders(' is not accepted: expected a name or a .NET regular expression")]
    [InlineData("source.schema-name", "\n    nested: map", "is a mapping at line")]
    [InlineData("sink.type", "jdbc", "'jdbc' is not accepted: expected dsql")]
    [InlineData("sink.port", "70000", "'70000' is not accepted: expected a port number (1-65535)")]
    [InlineData("sink.use-iam-auth", "yes", "'yes' is not accepted: expected true or false")]
    [InlineData("sink.enable-full-load", "1", "'1' is not accepted: expected true or false")]
    [InlineData("sink.max-pool-size", "0", "'0' is not accepted: expected a pool size of at least 1")]
    [InlineData("sink.max-pool-size", "10001", "'10001' is refused by Dsql.Connector")]
    [InlineData("sink.min-pool-size", "-1", "'-1' is not accepted: expected a pool size of 0 or more")]
    [InlineData("sink.min-pool-size", "11", "'11' is not accepted: expected at most sink.max-pool-size (10)")]
    [InlineData("sink.connection-max-lifetime-ms", "1500", "'1500' is not accepted: expected milliseconds, a multiple of 1000")]
    [InlineData("sink.connection-max-lifetime-ms", "3540000", "'3540000' is refused by Dsql.Connector")]
    [InlineData("sink.connection-idle-timeout-ms", "999", "'999' is not accepted: expected milliseconds")]
    [InlineData("sink.parallelism", "0", "'0' is not accepted: expected a number of parallel writers of at least 1")]
    [InlineData("sink.parallelism", "11", "'11' is not accepted: expected at most sink.max-pool-size (10)")]
    [InlineData("sink.host", "db.example.com", "'db.example.com' is refused by Dsql.Connector")]
    [InlineData("sink.database", "shop", "'shop' is refused by Dsql.Connector")]
    [InlineData("sink.region", "mars-1", "'mars-1' is refused by Dsql.Connector")]
    [InlineData("sink.host-address", "'not an address'", "'not an address' is refused by Dsql.Connector")]
    [InlineData("sink.root-certificate", "/no/such/root.pem", "'/no/such/root.pem' is refused by Dsql.Connector")]
    [InlineData("pipeline.parallelism", "0", "'0' is not accepted: expected a number of tables loaded at once")]
    public void A_bad_value_is_refused_naming_its_key_the_value_and_what_is_accepted(string path, string value, string expected)
    {
        var ex = Refused(Minimal((path, value)));

        var problem = Assert.Single(ex.Problems, p => p.Path.StartsWith(path, StringComparison.Ordinal));
        Assert.Contains(expected, problem.Message, StringComparison.Ordinal);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("source.type")]
    [InlineData("source.hostname")]
    [InlineData("source.username")]
    [InlineData("source.database-name")]
    [InlineData("source.schema-name")]
    [InlineData("source.table-name")]
    [InlineData("sink.type")]
    [InlineData("sink.host")]
    public void A_missing_required_key_is_named(string path)
    {
        var ex = Refused(Minimal((path, null)));

        Assert.Equal([path], PathsOf(ex));
        Assert.Contains("required", ex.Problems[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_problem_is_reported_at_once()
    {
        var ex = Refused(Minimal(("source.port", "x"), ("source.hostname", null), ("sink.max-pool-size", "0"),
            ("sink.use-iam-auth", "maybe"), ("sink.database", "shop"), ("sink.colour", "blue"), ("pipeline.parallelism", "-2")));

        Assert.Equal(["source.hostname", "source.port", "sink.use-iam-auth", "sink.max-pool-size", "sink.colour",
            "sink.database", "pipeline.parallelism"], PathsOf(ex));
        Assert.StartsWith("The pipeline file test.yaml has 7 problems:", ex.Message);
    }

    [Fact]
    public void Unknown_keys_and_sections_are_refused_with_the_accepted_keys()
    {
        var ex = Refused(Minimal(("sink.max-pool", "5"), ("source.hots", "x"), ("pipeline.nmae", "job")) + "extras:\n  a: 1\n");

        // Sections first, then each section's keys in file order.
        Assert.Equal(["extras", "source.hots", "sink.max-pool", "pipeline.nmae"], PathsOf(ex));
        var sinkProblem = ex.Problems.Single(p => p.Path == "sink.max-pool").Message;
        Assert.Contains("is not a key of 'sink:'", sinkProblem, StringComparison.Ordinal);
        Assert.Contains("max-pool-size", sinkProblem, StringComparison.Ordinal);
        Assert.Contains("Accepted sections: source, sink, pipeline", ex.Problems.Single(p => p.Path == "extras").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Flink_CDC_options_that_dsql_sync_does_not_use_are_refused_with_the_reason()
    {
        var ex = Refused(Minimal(("sink.batch-size", "1000"), ("sink.iam-role", "arn:aws:iam::1:role/x"),
            ("source.heartbeat.interval", "30s"), ("source.scan.incremental.snapshot.chunk.size", "8096")) +
            "route:\n  - source-table: a.b\n    sink-table: c.d\n");

        Assert.Equal(5, ex.Problems.Count);
        Assert.All(ex.Problems.Where(p => p.Path != "route"),
            p => Assert.Contains("is a Flink CDC option that dsql-sync does not use", p.Message, StringComparison.Ordinal));
        Assert.Contains("default AWS chain", ex.Problems.Single(p => p.Path == "sink.iam-role").Message, StringComparison.Ordinal);
        Assert.Contains("does not use", ex.Problems.Single(p => p.Path == "route").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_change_capture_keys_are_read_and_checked()
    {
        var pipeline = PipelineDefinition.Parse(Minimal(("source.slot.name", "orders_slot"), ("source.publication.name", "Orders Pub"), ("source.decoding.plugin.name", "pgoutput")));

        Assert.Equal("orders_slot", pipeline.Source.SlotName);
        Assert.Equal("Orders Pub", pipeline.Source.PublicationName);
        Assert.Null(PipelineDefinition.Parse(Minimal()).Source.SlotName);

        var ex = Refused(Minimal(("source.slot.name", "Orders-Slot"), ("source.decoding.plugin.name", "decoderbufs")));

        Assert.Equal(["source.slot.name", "source.decoding.plugin.name"], PathsOf(ex));
        Assert.Contains("pgoutput", ex.Problems[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Schema_change_and_poison_behaviour_are_read_and_checked()
    {
        var pipeline = PipelineDefinition.Parse(Minimal(("pipeline.schema.change.behavior", "EXCEPTION"), ("sink.poison-behavior", "dead-letter")));

        Assert.Equal(Cdc.SchemaChangeBehavior.Stop, pipeline.Pipeline.SchemaChanges);
        Assert.Equal(Cdc.PoisonBehavior.DeadLetter, pipeline.Sink.Poison);
        Assert.Equal(Cdc.SchemaChangeBehavior.Apply, PipelineDefinition.Parse(Minimal(("pipeline.schema.change.behavior", "try_evolve"))).Pipeline.SchemaChanges);
        Assert.Equal(Cdc.PoisonBehavior.Stop, PipelineDefinition.Parse(Minimal()).Sink.Poison);

        var ex = Refused(Minimal(("pipeline.schema.change.behavior", "ignore"), ("sink.poison-behavior", "skip")));

        Assert.Equal(["sink.poison-behavior", "pipeline.schema.change.behavior"], PathsOf(ex));
        Assert.Contains("dead-letter", ex.Problems[0].Message, StringComparison.Ordinal);
        Assert.Contains("ignore is not offered", ex.Problems[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_password_never_appears_in_a_message()
    {
        var ex = Refused(Minimal(("sink.password", "Tr0ub4dor&3"), ("source.password", "\n    secret: c0rrect-h0rse")));

        Assert.Equal(["source.password", "sink.password"], PathsOf(ex));
        Assert.Contains("use-iam-auth: false", ex.Problems[1].Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Tr0ub4dor", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("c0rrect", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "(file)", "is empty")]
    [InlineData("- a\n- b\n", "(file)", "is not a mapping of sections")]
    [InlineData("source: [\n", "(line", "is not valid YAML")]
    [InlineData("source: postgres\nsink:\n  type: dsql\n  host: abcdefghijklmnopqrstuvwxyz\n", "source", "is not a mapping")]
    public void A_file_that_is_not_a_pipeline_is_refused(string yaml, string path, string expected)
    {
        var ex = Refused(yaml);

        Assert.Contains(ex.Problems, p => p.Path.StartsWith(path, StringComparison.Ordinal) && p.Message.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void A_key_written_twice_is_refused_with_its_line()
    {
        var ex = Refused(Minimal() + "  port: 1\n  port: 2\n");

        var problem = Assert.Single(ex.Problems);
        Assert.StartsWith("(line ", problem.Path, StringComparison.Ordinal);
        Assert.Contains("uplicate", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Numbers_and_flags_may_be_quoted_or_use_underscores_as_Flink_CDC_reads_every_value_as_text()
    {
        var sink = PipelineDefinition.Parse(Minimal(("sink.max-pool-size", "\"12\""), ("sink.enable-full-load", "'FALSE'"),
            ("sink.connection-idle-timeout-ms", "120_000"))).Sink;

        Assert.Equal(12, sink.MaxPoolSize);
        Assert.False(sink.EnableFullLoad);
        Assert.Equal(TimeSpan.FromMinutes(2), sink.ConnectionIdleTimeout);
    }

    [Fact]
    public void The_sample_pipeline_file_parses_and_its_sink_is_accepted_by_the_connector()
    {
        var path = Path.Combine(RepositoryRoot(), "samples", "pipelines", "postgres-to-dsql.yaml");

        var definition = PipelineDefinition.Load(path);

        Assert.Equal("loader", definition.Source.Username);
        Assert.Null(definition.Source.Password);
        Assert.True(definition.Source.Tables.Includes("public", "order_line_2026"));
        Assert.False(definition.Source.Tables.Includes("public", "audit"));
        Assert.Equal(4, definition.Sink.Parallelism);
        Assert.Equal("shop to DSQL", definition.Pipeline.Name);
        definition.Sink.ToConnectorSettings().Validate();
    }

    [Fact]
    public void A_file_that_cannot_be_read_is_an_IO_error_not_a_pipeline_problem()
    {
        Assert.Throws<FileNotFoundException>(() => PipelineDefinition.Load(Path.Combine(Path.GetTempPath(), Guid.NewGuid() + ".yaml")));
    }
}
