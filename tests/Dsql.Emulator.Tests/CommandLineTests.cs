using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Dsql.Emulator.Cli;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Emulator.Tests;

/// <summary>The command-line parser, option by option, and the host process end to end.</summary>
[Collection(BackendCollection.Name)]
public sealed class CommandLineTests(BackendFixture backend)
{
    private static readonly TimeSpan ProcessLimit = TimeSpan.FromSeconds(30);

    // ------------------------------------------------------------------ defaults

    [Fact]
    public void No_arguments_give_the_default_endpoint_the_example_key_and_dsqls_limits()
    {
        var commandLine = CommandLine.Parse([]);

        Assert.False(commandLine.ShowHelp);
        Assert.False(commandLine.Verbose);
        var options = commandLine.Options;
        var endpoint = Assert.Single(options.Endpoints);
        Assert.Equal(EmulatorEndpoint.DefaultHost, endpoint.Host);
        Assert.Equal("us-east-1", endpoint.Region);
        Assert.Equal(0, endpoint.Port);
        Assert.Empty(options.AccessKeys); // empty = the AWS documentation example key
        Assert.Null(options.BackendConnectionString);
        Assert.Null(options.PgBin);
        Assert.Null(options.CaCertificateOutputPath);

        var defaults = new DsqlEmulatorOptions();
        Assert.Equal(defaults.MaxConnections, options.MaxConnections);
        Assert.Equal(10_000, options.MaxConnections);
        Assert.Equal(defaults.ConnectionRatePerSecond, options.ConnectionRatePerSecond);
        Assert.Equal(defaults.ConnectionBurst, options.ConnectionBurst);
        Assert.Equal(defaults.MaxConnectionAge, options.MaxConnectionAge);
        Assert.Equal(defaults.MaxTransactionAge, options.MaxTransactionAge);
        Assert.Equal(defaults.MaxRowsPerTransaction, options.MaxRowsPerTransaction);
        Assert.Equal(defaults.MaxBytesPerTransaction, options.MaxBytesPerTransaction);
        Assert.Equal(defaults.LockWaitTimeout, options.LockWaitTimeout);
        Assert.Equal(defaults.AllowedClockSkew, options.AllowedClockSkew);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("-?")]
    public void Help_is_recognised(string flag)
    {
        Assert.True(CommandLine.Parse([flag]).ShowHelp);
    }

    [Fact]
    public void Every_option_maps_onto_its_property()
    {
        var commandLine = CommandLine.Parse(
        [
            "--verbose",
            "--ca-out", "/tmp/some dir/ca.pem",
            "--backend", "Host=/var/run/postgresql;Port=5432;Username=postgres;Database=postgres",
            "--pg-bin", "/usr/lib/postgresql/17/bin",
            "--max-connections", "25",
            "--connection-rate", "2.5",
            "--connection-burst", "7",
            "--max-connection-age", "90",
            "--max-transaction-age", "1.5",
            "--max-rows", "10",
            "--max-bytes", "4096",
            "--lock-wait-timeout", "0",
            "--clock-skew", "30",
            "--backend-max-connections", "2100",
            "--handshake-timeout", "2.5",
        ]);

        Assert.True(commandLine.Verbose);
        Assert.False(commandLine.ShowHelp);
        var options = commandLine.Options;
        Assert.Equal("/tmp/some dir/ca.pem", options.CaCertificateOutputPath);
        Assert.Equal("Host=/var/run/postgresql;Port=5432;Username=postgres;Database=postgres", options.BackendConnectionString);
        Assert.Equal("/usr/lib/postgresql/17/bin", options.PgBin);
        Assert.Equal(25, options.MaxConnections);
        Assert.Equal(2.5, options.ConnectionRatePerSecond);
        Assert.Equal(7, options.ConnectionBurst);
        Assert.Equal(TimeSpan.FromSeconds(90), options.MaxConnectionAge);
        Assert.Equal(TimeSpan.FromSeconds(1.5), options.MaxTransactionAge);
        Assert.Equal(10, options.MaxRowsPerTransaction);
        Assert.Equal(4096L, options.MaxBytesPerTransaction);
        Assert.Equal(TimeSpan.Zero, options.LockWaitTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), options.AllowedClockSkew);
        Assert.Equal(2100, options.BackendMaxConnections);
        Assert.Equal(TimeSpan.FromSeconds(2.5), options.HandshakeTimeout);
        Assert.Equal(EmulatorEndpoint.DefaultHost, Assert.Single(options.Endpoints).Host);
    }

    [Fact]
    public void Minimum_job_duration_is_in_milliseconds()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(1500), CommandLine.Parse(["--min-job-duration", "1500"]).Options.MinimumJobDuration);
        Assert.Equal(TimeSpan.Zero, CommandLine.Parse(["--min-job-duration", "0"]).Options.MinimumJobDuration);
    }

    [Fact]
    public void Lock_wait_timeout_is_in_milliseconds()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(750), CommandLine.Parse(["--lock-wait-timeout", "750"]).Options.LockWaitTimeout);
    }

    // ------------------------------------------------------------------ endpoints

    [Fact]
    public void Endpoint_with_a_port()
    {
        var endpoint = Assert.Single(CommandLine.Parse(["--endpoint", "abcdefghijklmnopqrstuvwxyz.dsql.us-west-2.on.aws:5433"]).Options.Endpoints);
        Assert.Equal("abcdefghijklmnopqrstuvwxyz.dsql.us-west-2.on.aws", endpoint.Host);
        Assert.Equal("us-west-2", endpoint.Region);
        Assert.Equal(5433, endpoint.Port);
    }

    [Fact]
    public void Port_sets_the_first_endpoints_port_only()
    {
        var endpoints = CommandLine.Parse(
        [
            "--endpoint", "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws",
            "--endpoint", "abcdefghijklmnopqrstuvwxyz.dsql.us-east-2.on.aws:6000",
            "--port", "5433",
        ]).Options.Endpoints;

        Assert.Equal(2, endpoints.Count);
        Assert.Equal(("abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws", "us-east-1", 5433), (endpoints[0].Host, endpoints[0].Region, endpoints[0].Port));
        Assert.Equal(("abcdefghijklmnopqrstuvwxyz.dsql.us-east-2.on.aws", "us-east-2", 6000), (endpoints[1].Host, endpoints[1].Region, endpoints[1].Port));
    }

    [Fact]
    public void Port_alone_applies_to_the_default_endpoint()
    {
        var endpoint = Assert.Single(CommandLine.Parse(["--port", "15432"]).Options.Endpoints);
        Assert.Equal(EmulatorEndpoint.DefaultHost, endpoint.Host);
        Assert.Equal(15432, endpoint.Port);
    }

    [Fact]
    public void Region_applies_to_endpoints_whose_name_has_none()
    {
        var endpoints = CommandLine.Parse(
        [
            "--region", "eu-central-1",
            "--endpoint", "db.example.internal",
            "--endpoint", "abcdefghijklmnopqrstuvwxyz.dsql-fnh4.ap-northeast-1.on.aws",
        ]).Options.Endpoints;

        Assert.Equal(2, endpoints.Count);
        Assert.Equal("db.example.internal", endpoints[0].Host);
        Assert.Equal("eu-central-1", endpoints[0].Region);
        Assert.Equal("ap-northeast-1", endpoints[1].Region); // the name wins over --region
    }

    // ------------------------------------------------------------------ access keys

    [Fact]
    public void Access_keys_pair_up_in_order_with_optional_session_tokens()
    {
        var keys = CommandLine.Parse(
        [
            "--access-key", "AKIAFIRSTKEY00000001", "--secret-key", "first-secret",
            "--access-key", "ASIATEMPORARY0000002", "--secret-key", "second-secret", "--session-token", "session-token-2",
            "--access-key", "AKIATHIRDKEY00000003",
            "--secret-key", "third-secret",
        ]).Options.AccessKeys;

        Assert.Equal(
            new[]
            {
                new EmulatorAccessKey("AKIAFIRSTKEY00000001", "first-secret"),
                new EmulatorAccessKey("ASIATEMPORARY0000002", "second-secret", "session-token-2"),
                new EmulatorAccessKey("AKIATHIRDKEY00000003", "third-secret"),
            },
            keys);
    }

    [Fact]
    public void A_session_token_belongs_to_the_access_key_before_it()
    {
        var keys = CommandLine.Parse(
        [
            "--access-key", "ASIATEMPORARY0000001",
            "--session-token", "token-for-first",
            "--access-key", "AKIALONGTERM00000002",
            "--secret-key", "secret-1",
            "--secret-key", "secret-2",
        ]).Options.AccessKeys;

        Assert.Equal(2, keys.Count);
        Assert.Equal("token-for-first", keys[0].SessionToken);
        Assert.Null(keys[1].SessionToken);
    }

    // ------------------------------------------------------------------ errors

    [Fact]
    public void Unknown_option_is_named()
    {
        var ex = Assert.Throws<CommandLineException>(() => CommandLine.Parse(["--port", "1", "--bogus-option", "x"]));
        Assert.Contains("'--bogus-option'", ex.Message);
    }

    [Theory]
    [InlineData("--port")]
    [InlineData("--endpoint")]
    [InlineData("--backend")]
    [InlineData("--ca-out")]
    [InlineData("--max-rows")]
    public void Missing_value_at_the_end_names_the_option(string option)
    {
        var ex = Assert.Throws<CommandLineException>(() => CommandLine.Parse(["--verbose", option]));
        Assert.Contains(option, ex.Message);
        Assert.Contains("needs a value", ex.Message);
    }

    [Fact]
    public void An_option_is_not_taken_as_the_previous_options_value()
    {
        var ex = Assert.Throws<CommandLineException>(() => CommandLine.Parse(["--backend", "--verbose"]));
        Assert.Contains("--backend", ex.Message);
        Assert.Contains("needs a value", ex.Message);
    }

    [Theory]
    [InlineData("70000")]
    [InlineData("-1")]
    [InlineData("54x")]
    [InlineData("65536")]
    public void Bad_port_names_option_and_value(string value)
    {
        var ex = Assert.Throws<CommandLineException>(() => CommandLine.Parse(["--port", value]));
        Assert.Contains("--port", ex.Message);
        Assert.Contains($"'{value}'", ex.Message);
    }

    [Fact]
    public void Bad_endpoint_port_names_option_and_value()
    {
        var ex = Assert.Throws<CommandLineException>(() => CommandLine.Parse(["--endpoint", "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws:99999"]));
        Assert.Contains("--endpoint", ex.Message);
        Assert.Contains("'99999'", ex.Message);
    }

    [Fact]
    public void Port_and_endpoint_port_that_disagree_are_refused()
    {
        var ex = Assert.Throws<CommandLineException>(() => CommandLine.Parse(["--endpoint", "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws:5433", "--port", "5434"]));
        Assert.Contains("--port 5434", ex.Message);
        Assert.Contains("5433", ex.Message);
    }

    [Fact]
    public void Access_key_without_secret_is_refused()
    {
        var ex = Assert.Throws<CommandLineException>(() => CommandLine.Parse(["--access-key", "AKIAFIRSTKEY00000001"]));
        Assert.Contains("--access-key", ex.Message);
        Assert.Contains("--secret-key", ex.Message);
    }

    [Fact]
    public void Secret_without_access_key_is_refused_without_echoing_the_secret()
    {
        var ex = Assert.Throws<CommandLineException>(() => CommandLine.Parse(["--secret-key", "do-not-print-me"]));
        Assert.Contains("--access-key", ex.Message);
        Assert.Contains("--secret-key", ex.Message);
        Assert.DoesNotContain("do-not-print-me", ex.Message);
    }

    [Fact]
    public void Session_token_before_any_access_key_is_refused_without_echoing_the_token()
    {
        var ex = Assert.Throws<CommandLineException>(() => CommandLine.Parse(["--session-token", "secret-session-token", "--access-key", "ASIATEMPORARY0000001", "--secret-key", "s"]));
        Assert.Contains("--session-token", ex.Message);
        Assert.Contains("--access-key", ex.Message);
        Assert.DoesNotContain("secret-session-token", ex.Message);
    }

    [Fact]
    public void Endpoint_without_region_names_the_endpoint_and_asks_for_region()
    {
        var ex = Assert.Throws<CommandLineException>(() => CommandLine.Parse(["--endpoint", "db.example.internal:5433"]));
        Assert.Contains("--endpoint", ex.Message);
        Assert.Contains("'db.example.internal'", ex.Message);
        Assert.Contains("--region", ex.Message);
    }

    [Theory]
    [InlineData("US-EAST-1")]
    [InlineData("us_east_1")]
    [InlineData("x")]
    [InlineData("us-east-1.on.aws")]
    public void Bad_region_names_option_and_value(string value)
    {
        var ex = Assert.Throws<CommandLineException>(() => CommandLine.Parse(["--region", value]));
        Assert.Contains("--region", ex.Message);
        Assert.Contains($"'{value}'", ex.Message);
    }

    [Theory]
    [InlineData("--max-connections", "0")]
    [InlineData("--max-connections", "ten")]
    [InlineData("--connection-rate", "0")]
    [InlineData("--connection-rate", "-3")]
    [InlineData("--connection-rate", "NaN")]
    [InlineData("--connection-burst", "0")]
    [InlineData("--max-connection-age", "0")]
    [InlineData("--max-transaction-age", "1e3")]
    [InlineData("--max-rows", "1.5")]
    [InlineData("--max-bytes", "0")]
    [InlineData("--lock-wait-timeout", "-1")]
    [InlineData("--clock-skew", "5m")]
    [InlineData("--backend-max-connections", "0")]
    [InlineData("--handshake-timeout", "0")]
    [InlineData("--handshake-timeout", "soon")]
    public void Bad_numbers_name_option_and_value(string option, string value)
    {
        var ex = Assert.Throws<CommandLineException>(() => CommandLine.Parse([option, value]));
        Assert.Contains(option, ex.Message);
        Assert.Contains($"'{value}'", ex.Message);
    }

    // ------------------------------------------------------------------ the host process

    [Fact]
    public async Task The_host_serves_connections_until_sigterm_and_then_exits_0()
    {
        string caOut = Path.Combine(Path.GetTempPath(), "dsql-emulator-cli-test-" + Guid.NewGuid().ToString("N") + ".pem");
        using var process = StartHost("--port", "0", "--backend", backend.Cluster.ConnectionString, "--ca-out", caOut);
        var stdout = new List<string>();
        var ready = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) { ready.TrySetException(new InvalidOperationException("stdout ended before 'ready'")); return; }
            lock (stdout) stdout.Add(e.Data);
            if (e.Data.StartsWith("ready ", StringComparison.Ordinal)) ready.TrySetResult(e.Data);
        };
        var stderr = process.StandardError.ReadToEndAsync();
        process.BeginOutputReadLine();
        try
        {
            string readyLine = await ready.Task.WaitAsync(ProcessLimit);
            var match = Regex.Match(readyLine, @"^ready 127\.0\.0\.1:(\d+)$");
            Assert.True(match.Success, $"unexpected ready line: '{readyLine}'");
            int port = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.InRange(port, 1, 65535);

            Assert.True(File.Exists(caOut), "--ca-out file was not written");
            Assert.Contains("-----BEGIN CERTIFICATE-----", await File.ReadAllTextAsync(caOut));
            lock (stdout)
                Assert.Contains(stdout, line => line == $"endpoint {EmulatorEndpoint.DefaultHost} region=us-east-1 listening=127.0.0.1:{port}");

            string token = TestTokens.Sign(EmulatorEndpoint.DefaultHost, "us-east-1", "admin", DateTimeOffset.UtcNow);
            var builder = new NpgsqlConnectionStringBuilder
            {
                Host = "127.0.0.1",
                Port = port,
                Database = "postgres",
                Username = "admin",
                Password = token,
                SslMode = SslMode.VerifyFull,
                SslNegotiation = SslNegotiation.Direct,
                RootCertificate = caOut,
                Pooling = false,
            };
            await using (var connection = new NpgsqlConnection(builder.ConnectionString))
            {
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand("SELECT 1", connection);
                Assert.Equal(1, (int)(await command.ExecuteScalarAsync())!);
            }

            using (var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })!)
            {
                await kill.WaitForExitAsync();
                Assert.Equal(0, kill.ExitCode);
            }
            using (var exitWait = new CancellationTokenSource(ProcessLimit))
                await process.WaitForExitAsync(exitWait.Token);
            Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}; stderr: {await stderr}");
            lock (stdout) Assert.Contains("stopping", stdout);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            File.Delete(caOut);
        }
    }

    [Fact]
    public async Task Help_prints_usage_and_exits_0()
    {
        var (exitCode, stdout, _) = await RunHostAsync("--help");
        Assert.Equal(0, exitCode);
        Assert.Contains("Usage", stdout);
        Assert.Contains("--endpoint", stdout);
    }

    [Fact]
    public async Task A_bad_option_exits_2_with_an_error_on_stderr()
    {
        var (exitCode, stdout, stderr) = await RunHostAsync("--no-such-option");
        Assert.Equal(2, exitCode);
        Assert.StartsWith("error:", stderr);
        Assert.Contains("--no-such-option", stderr);
        Assert.DoesNotContain("ready", stdout);
    }

    private static Process StartHost(params string[] arguments)
    {
        var startInfo = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        startInfo.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Dsql.Emulator.dll"));
        foreach (string argument in arguments) startInfo.ArgumentList.Add(argument);
        return Process.Start(startInfo) ?? throw new InvalidOperationException("could not start the emulator host");
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunHostAsync(params string[] arguments)
    {
        using var process = StartHost(arguments);
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var limit = new CancellationTokenSource(ProcessLimit);
            await process.WaitForExitAsync(limit.Token);
            return (process.ExitCode, await stdout, await stderr);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }
}
