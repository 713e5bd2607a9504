using System.Diagnostics;
using System.Text.RegularExpressions;
using Amazon.Runtime;
using Dsql.Connector;
using Dsql.Emulator;
using EfCore;
using Npgsql;

namespace Dsql.Samples.Tests;

/// <summary>
/// samples/EfCore run against a local DSQL emulator of its own: what it prints, and what it leaves in the database
/// (the migration's history row, the tables, indexes and keys it created, the rows it wrote).
/// </summary>
public sealed partial class EfCoreSampleTests(EfCoreSampleTests.EmulatorFixture emulator) : IClassFixture<EfCoreSampleTests.EmulatorFixture>
{
    private const string MigrationId = "20261128165912_InitialCreate";

    [Fact]
    public async Task The_sample_migrates_writes_in_the_execution_strategy_and_reads_back_and_a_second_run_applies_nothing()
    {
        await using var dataSource = emulator.BuildDataSource();

        string first = await RunAsync(dataSource);

        Assert.Contains($"pending: {MigrationId}", first, StringComparison.Ordinal);
        Assert.Contains("applied 1 migration(s) in ", first, StringComparison.Ordinal);
        Assert.Contains($"applied so far: {MigrationId}", first, StringComparison.Ordinal);
        Assert.Contains("committed after 1 attempt(s): customer ", first, StringComparison.Ordinal);
        Assert.Contains("has 3 orders, total 56.25:", first, StringComparison.Ordinal);
        Assert.Contains("the database holds 1 customer(s) and 3 order(s) in all.", first, StringComparison.Ordinal);
        var (customerId, email) = Written(first);

        await using var connection = await dataSource.OpenConnectionAsync();
        Assert.Equal([MigrationId], await ColumnAsync<string>(connection, """SELECT "MigrationId" FROM "__EFMigrationsHistory" """));
        Assert.Equal([customerId], await ColumnAsync<Guid>(connection, $"""SELECT "Id" FROM shop_customers WHERE "Email" = '{email}'"""));
        Assert.Equal(
            ["1 x fountain pen 34.00", "3 x ink 9.75", "2 x notebook 12.50"],
            await ColumnAsync<string>(connection, $"""SELECT "Quantity" || ' x ' || "Item" || ' ' || "Amount" FROM shop_orders WHERE "CustomerId" = '{customerId}' ORDER BY "Item" """));
        // The order numbers come from the bigint identity column, one per row; the sample prints them as it read them.
        var orderIds = await ColumnAsync<long>(connection, $"""SELECT "Id" FROM shop_orders WHERE "CustomerId" = '{customerId}' ORDER BY "Id" """);
        Assert.Equal(3, orderIds.Distinct().Count());
        foreach (long id in orderIds) Assert.Contains($"  order {id}: ", first, StringComparison.Ordinal);
        Assert.Equal(["bigint BY DEFAULT"], await ColumnAsync<string>(connection,
            "SELECT data_type || ' ' || identity_generation FROM information_schema.columns WHERE table_name = 'shop_orders' AND column_name = 'Id' AND is_identity = 'YES'"));
        Assert.Equal(
            ["IX_shop_customers_Email unique", "IX_shop_orders_CustomerId"],
            await ColumnAsync<string>(connection, """
                SELECT i.relname || CASE WHEN x.indisunique THEN ' unique' ELSE '' END
                FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
                WHERE t.relname IN ('shop_customers', 'shop_orders') AND NOT x.indisprimary ORDER BY 1
                """));
        Assert.Equal(["FK_shop_orders_shop_customers_CustomerId"], await ColumnAsync<string>(connection,
            "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid = 'shop_orders'::regclass"));

        string second = await RunAsync(dataSource);

        Assert.Contains("no migration pending: the database is up to date.", second, StringComparison.Ordinal);
        Assert.DoesNotContain("applied 1 migration", second, StringComparison.Ordinal);
        Assert.Contains("the database holds 2 customer(s) and 6 order(s) in all.", second, StringComparison.Ordinal);
        Assert.NotEqual(customerId, Written(second).CustomerId);
        Assert.Equal([MigrationId], await ColumnAsync<string>(connection, """SELECT "MigrationId" FROM "__EFMigrationsHistory" """));
        Assert.Equal([2L], await ColumnAsync<long>(connection, "SELECT count(*) FROM shop_customers"));
        Assert.Equal([6L], await ColumnAsync<long>(connection, "SELECT count(*) FROM shop_orders"));
    }

    [Fact]
    public async Task The_program_without_DSQL_ENDPOINT_runs_against_an_emulator_it_starts_and_stops()
    {
        // The sample's own build (beside its project, with its own dependencies), as `dotnet run` starts it.
        var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string configuration = testOutput.Parent!.Name, framework = testOutput.Name;
        string sample = Path.Combine(RepositoryRoot(), "samples", "EfCore", "bin", configuration, framework, "EfCore.dll");
        Assert.True(File.Exists(sample), $"{sample} was not built");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(sample);
        start.Environment.Remove("DSQL_ENDPOINT");
        start.Environment.Remove("DSQL_REGION");

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        string output = await stdout;

        Assert.True(process.ExitCode == 0, $"the sample exited {process.ExitCode}:\n{output}\n{await stderr}");
        Assert.StartsWith("DSQL_ENDPOINT is not set: starting the local DSQL emulator", output, StringComparison.Ordinal);
        Assert.Contains($"applied so far: {MigrationId}", output, StringComparison.Ordinal);
        Assert.Contains("the database holds 1 customer(s) and 3 order(s) in all.", output, StringComparison.Ordinal);
        Assert.EndsWith("Done." + Environment.NewLine, output, StringComparison.Ordinal);
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "Dsql.Connector.sln"))) return directory.FullName;
        throw new InvalidOperationException($"The repository root (Dsql.Connector.sln) was not found above {AppContext.BaseDirectory}.");
    }

    private static async Task<string> RunAsync(DsqlDataSource dataSource)
    {
        using var output = new StringWriter();
        await SampleRun.RunAsync(dataSource, output);
        return output.ToString();
    }

    /// <summary>The customer the run wrote, as it printed it.</summary>
    private static (Guid CustomerId, string Email) Written(string output)
    {
        var match = WrittenLine().Match(output);
        Assert.True(match.Success, "no 'committed ... customer <id> <e-mail>' line in:\n" + output);
        return (Guid.Parse(match.Groups["id"].Value), match.Groups["email"].Value);
    }

    [GeneratedRegex(@"customer (?<id>[0-9a-f-]{36}) <(?<email>ada\.[0-9a-f]{8}@example\.com)> with 3 orders")]
    private static partial Regex WrittenLine();

    private static async Task<List<T>> ColumnAsync<T>(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var values = new List<T>();
        while (await reader.ReadAsync()) values.Add(reader.GetFieldValue<T>(0));
        return values;
    }

    /// <summary>One emulator (its own throwaway PostgreSQL) for the class; data sources sign in with the example key.</summary>
    public sealed class EmulatorFixture : IAsyncLifetime
    {
        private DsqlEmulator? _emulator;

        public async Task InitializeAsync()
            => _emulator = await DsqlEmulator.StartAsync(new DsqlEmulatorOptions { Endpoints = { new EmulatorEndpoint($"{SampleAppFactory.UniqueClusterId()}.dsql.us-east-1.on.aws") } });

        public DsqlDataSource BuildDataSource()
        {
            var endpoint = (_emulator ?? throw new InvalidOperationException("The emulator has not started.")).Endpoints[0];
            // As samples/EfCore/Program.cs connects to the emulator it starts.
            return new DsqlDataSourceBuilder($"Host={endpoint.Host};Host Address=127.0.0.1;Port={endpoint.Port};Root Certificate={endpoint.CaCertificatePath}")
                .UseCredentials(new BasicAWSCredentials(DsqlEmulatorOptions.ExampleAccessKeyId, DsqlEmulatorOptions.ExampleSecretAccessKey))
                .Build();
        }

        public async Task DisposeAsync()
        {
            if (_emulator is not null) await _emulator.DisposeAsync();
        }
    }
}
