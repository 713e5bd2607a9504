using Amazon.Runtime;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator.Tests.Infrastructure;
using Dsql.Sync.Pipeline;
using Npgsql;

namespace Dsql.Sync.Tests;

/// <summary>The connections a pipeline file describes reach real servers: the emulator, and PostgreSQL as source and as a password target.</summary>
[Collection(BackendCollection.Name)]
public sealed class PipelineTargetTests(BackendFixture backend)
{
    private NpgsqlConnectionStringBuilder Backend => new(backend.Cluster.ConnectionString);

    [Fact]
    public async Task The_sink_of_a_file_aimed_at_an_emulator_builds_a_data_source_that_runs_a_query()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        var endpoint = harness.Endpoint;
        var path = Path.Combine(Path.GetTempPath(), $"pipeline-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(path, $"""
            source:
              type: postgres
              hostname: localhost
              username: loader
              database-name: shop
              schema-name: public
              table-name: orders
            sink:
              type: dsql
              host: {endpoint.Host}
              port: {endpoint.Port}
              host-address: 127.0.0.1
              root-certificate: {endpoint.CaCertificatePath}
              max-pool-size: 7
              min-pool-size: 1
              connection-max-lifetime-ms: 600000
              connection-idle-timeout-ms: 120000
              parallelism: 3
            """);
        try
        {
            var sink = PipelineDefinition.Load(path).Sink;

            await using var dataSource = sink.CreateDataSourceBuilder()
                .UseCredentials(new BasicAWSCredentials(TestTokens.AccessKeyId, TestTokens.Secret))
                .UseTimeProvider(harness.Emulator.Clock)
                .Build();
            await using var connection = await dataSource.OpenConnectionAsync();
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            Assert.Equal(1, (int)(await command.ExecuteScalarAsync())!);

            Assert.Equal(endpoint.Host, dataSource.Endpoint);
            var pool = new NpgsqlConnectionStringBuilder(dataSource.NpgsqlDataSource.ConnectionString);
            Assert.Equal(7, pool.MaxPoolSize);
            Assert.Equal(1, pool.MinPoolSize);
            Assert.Equal(600, pool.ConnectionLifetime);
            Assert.Equal(120, pool.ConnectionIdleLifetime);
            Assert.Equal(SslMode.VerifyFull, pool.SslMode);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task The_source_reaches_PostgreSQL_and_its_selection_picks_tables_from_the_catalog()
    {
        var database = $"pipeline_source_{Guid.NewGuid():N}";
        await using (var admin = backend.OpenDirect())
        {
            await using var create = new NpgsqlCommand($"CREATE DATABASE {database}", admin);
            await create.ExecuteNonQueryAsync();
        }

        try
        {
            var direct = Backend;
            await using (var setup = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(direct.ConnectionString) { Database = database, Pooling = false }.ConnectionString))
            {
                await setup.OpenAsync();
                await using var ddl = new NpgsqlCommand("""
                    CREATE SCHEMA sales;
                    CREATE TABLE public.orders (id int PRIMARY KEY);
                    CREATE TABLE public.order_line_1 (id int PRIMARY KEY);
                    CREATE TABLE public.audit (id int PRIMARY KEY);
                    CREATE TABLE sales.orders (id int PRIMARY KEY);
                    CREATE TABLE sales."Orders" (id int PRIMARY KEY);
                    """, setup);
                await ddl.ExecuteNonQueryAsync();
            }

            var source = PipelineDefinition.Parse($"""
                source:
                  type: postgres
                  hostname: {direct.Host}
                  port: {direct.Port}
                  username: {direct.Username}
                  password: "{direct.Password}"
                  database-name: {database}
                  schema-name: public,sales
                  table-name:
                    - orders
                    - 'order_line_[0-9]+'
                sink:
                  type: dsql
                  host: {PipelineYaml.Endpoint}
                """).Source;

            var settings = source.ToNpgsqlSettings();
            settings.Pooling = false;
            await using var connection = new NpgsqlConnection(settings.ConnectionString);
            await connection.OpenAsync();
            await using var query = new NpgsqlCommand(
                "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace " +
                "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2", connection);
            var selected = new List<string>();
            await using (var reader = await query.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    if (source.Tables.Includes(reader.GetString(0), reader.GetString(1)))
                    {
                        selected.Add($"{reader.GetString(0)}.{reader.GetString(1)}");
                    }
                }
            }

            Assert.Equal(["public.order_line_1", "public.orders", "sales.orders"], selected);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await using var admin = backend.OpenDirect();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {database} WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
        }
    }

    [Fact]
    public async Task A_sink_without_IAM_reaches_a_PostgreSQL_target_with_its_password()
    {
        var direct = Backend;
        var sink = PipelineDefinition.Parse(PipelineYaml.Minimal(
            ("sink.use-iam-auth", "false"), ("sink.host", direct.Host!), ("sink.port", direct.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("sink.username", direct.Username!), ("sink.password", $"\"{direct.Password}\""), ("sink.min-pool-size", "0"))).Sink;

        var settings = sink.ToNpgsqlSettings();
        settings.Pooling = false;
        await using var connection = new NpgsqlConnection(settings.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT current_database()", connection);
        Assert.Equal("postgres", await command.ExecuteScalarAsync());
    }
}
