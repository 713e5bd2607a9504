using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Dsql.Emulator.Tool.Cli;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Emulator.Tests;

/// <summary>The dsql-emulator command line (System.CommandLine bound onto the options), option by option, and the tool's process end to end.</summary>
[Collection(BackendCollection.Name)]
public sealed class CommandLineTests(BackendFixture backend)
{
    private static readonly TimeSpan ProcessLimit = TimeSpan.FromSeconds(30);

    /// <summary>Parses with an empty environment, so that variables of the machine running the tests cannot change the outcome.</summary>
    private static CommandLine Parse(params string[] args) => CommandLine.Parse(args, _ => null);

    // ------------------------------------------------------------------ defaults

    [Fact]
    public void No_arguments_give_the_default_endpoint_the_example_key_and_dsqls_limits()
    {
        var commandLine = Parse([]);

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
        Assert.True(Parse([flag]).ShowHelp);
    }

    [Fact]
    public void Every_option_maps_onto_its_property()
    {
        var commandLine = Parse(
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
        Assert.Equal(TimeSpan.FromMilliseconds(750), Parse(["--lock-wait-timeout", "750"]).Options.LockWaitTimeout);
    }

    // ------------------------------------------------------------------ endpoints

    [Fact]
    public void Endpoint_with_a_port()
    {
        var endpoint = Assert.Single(Parse(["--endpoint", "abcdefghijklmnopqrstuvwxyz.dsql.us-west-2.on.aws:5433"]).Options.Endpoints);
        Assert.Equal("abcdefghijklmnopqrstuvwxyz.dsql.us-west-2.on.aws", endpoint.Host);
        Assert.Equal("us-west-2", endpoint.Region);
        Assert.Equal(5433, endpoint.Port);
    }

    [Fact]
    public void Port_sets_the_first_endpoints_port_only()
    {
        var endpoints = Parse(
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
        var endpoint = Assert.Single(Parse(["--port", "15432"]).Options.Endpoints);
        Assert.Equal(EmulatorEndpoint.DefaultHost, endpoint.Host);
        Assert.Equal(15432, endpoint.Port);
    }

    [Fact]
    public void Region_applies_to_endpoints_whose_name_has_none()
    {
        var endpoints = Parse(
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
        var keys = Parse(
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
        var keys = Parse(
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

    // ------------------------------------------------------------------ secrets outside the command line

    [Fact]
    public void A_single_access_key_takes_its_secret_and_session_token_from_the_environment()
    {
        var environment = new Dictionary<string, string>
        {
            [CommandLine.SecretKeyVariable] = "secret-from-environment",
            [CommandLine.SessionTokenVariable] = "session-from-environment",
        };
        var key = Assert.Single(CommandLine.Parse(["--access-key", "ASIATEMPORARY0000001"], name => environment.GetValueOrDefault(name)).Options.AccessKeys);
        Assert.Equal(new EmulatorAccessKey("ASIATEMPORARY0000001", "secret-from-environment", "session-from-environment"), key);
    }

    [Fact]
    public void A_secret_on_the_command_line_wins_over_the_environment()
    {
        var key = Assert.Single(CommandLine.Parse(["--access-key", "AKIAFIRSTKEY00000001", "--secret-key", "given"],
            name => name == CommandLine.SecretKeyVariable ? "from-environment" : null).Options.AccessKeys);
        Assert.Equal("given", key.SecretAccessKey);
        Assert.Null(key.SessionToken);
    }

    [Fact]
    public void A_secret_in_the_environment_without_an_access_key_is_refused_without_echoing_it()
    {
        var ex = Assert.Throws<CommandLineException>(() => CommandLine.Parse([], name => name == CommandLine.SecretKeyVariable ? "do-not-print-me" : null));
        Assert.Contains(CommandLine.SecretKeyVariable, ex.Message);
        Assert.Contains("--access-key", ex.Message);
        Assert.DoesNotContain("do-not-print-me", ex.Message);
    }

    [Fact]
    public void Secrets_and_session_tokens_come_from_files_in_command_line_order()
    {
        string directory = Directory.CreateTempSubdirectory("dsql-emulator-cli-secrets-").FullName;
        try
        {
            string secret1 = Path.Combine(directory, "first");
            string session1 = Path.Combine(directory, "first session");
            File.WriteAllText(secret1, "first-secret\n");
            File.WriteAllText(session1, "first-session\r\n");
            var keys = Parse(
            [
                "--access-key", "ASIATEMPORARY0000001", "--secret-key-file", secret1, "--session-token-file", session1,
                "--access-key", "AKIASECONDKEY0000002", "--secret-key", "second-secret",
            ]).Options.AccessKeys;
            Assert.Equal(
                new[]
                {
                    new EmulatorAccessKey("ASIATEMPORARY0000001", "first-secret", "first-session"),
                    new EmulatorAccessKey("AKIASECONDKEY0000002", "second-secret"),
                },
                keys);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void A_missing_or_empty_secret_file_names_the_option_and_the_path()
    {
        string empty = Path.GetTempFileName();
        try
        {
            string missing = empty + ".missing";
            var ex = Assert.Throws<CommandLineException>(() => Parse(
                ["--access-key", "AKIAFIRSTKEY00000001", "--secret-key-file", missing, "--access-key", "AKIASECONDKEY0000002", "--secret-key-file", empty]));
            Assert.Contains($"--secret-key-file '{missing}'", ex.Message);
            Assert.Contains($"--secret-key-file '{empty}' is empty", ex.Message);
        }
        finally
        {
            File.Delete(empty);
        }
    }

    [Fact]
    public void Help_shows_the_local_example_key_and_how_to_keep_a_secret_out_of_ps()
    {
        string help = CommandLine.HelpText();
        Assert.Contains("AWS_ACCESS_KEY_ID=" + DsqlEmulatorOptions.ExampleAccessKeyId, help);
        Assert.Contains("AWS_SECRET_ACCESS_KEY=" + DsqlEmulatorOptions.ExampleSecretAccessKey, help);
        Assert.Contains(CommandLine.SecretKeyVariable, help);
        Assert.Contains(CommandLine.SessionTokenVariable, help);
        Assert.Contains("dsql-emulator token", help);
        foreach (string option in (string[])
                 ["--endpoint", "--port", "--region", "--access-key", "--secret-key", "--secret-key-file", "--session-token",
                  "--session-token-file", "--ca-out", "--backend", "--pg-bin", "--backend-max-connections", "--max-connections",
                  "--connection-rate", "--connection-burst", "--max-connection-age", "--max-transaction-age", "--max-rows",
                  "--max-bytes", "--lock-wait-timeout", "--clock-skew", "--handshake-timeout", "--verbose", "--help"])
            Assert.Contains(option + " ", help);
    }

    // ------------------------------------------------------------------ the token command

    [Fact]
    public void Token_command_defaults_to_the_default_endpoint_admin_and_the_example_key()
    {
        var request = Assert.IsType<TokenRequest>(Parse(["token"]).Token);
        Assert.Equal(EmulatorEndpoint.DefaultHost, request.Host);
        Assert.Equal("us-east-1", request.Region);
        Assert.Equal("admin", request.User);
        Assert.Equal(TimeSpan.FromMinutes(15), request.ExpiresIn);
        Assert.Equal(new EmulatorAccessKey(DsqlEmulatorOptions.ExampleAccessKeyId, DsqlEmulatorOptions.ExampleSecretAccessKey), request.Key);
    }

    [Fact]
    public void Token_command_signs_a_token_the_emulator_accepts_for_that_endpoint_and_role()
    {
        var request = Assert.IsType<TokenRequest>(CommandLine.Parse(
            ["token", "--endpoint", "db.example.internal", "--region", "eu-west-1", "--user", "app", "--expires-in", "60", "--access-key", "AKIAFIRSTKEY00000001"],
            name => name == CommandLine.SecretKeyVariable ? "first-secret" : null).Token);
        var now = DateTimeOffset.UtcNow;
        string token = TokenSigner.Sign(request, now);
        var validator = new Dsql.Emulator.Auth.DsqlTokenValidator([new EmulatorAccessKey("AKIAFIRSTKEY00000001", "first-secret")], TimeSpan.FromMinutes(5));
        Assert.True(validator.Validate(token, "app", "db.example.internal", "eu-west-1", now).IsValid);
        Assert.False(validator.Validate(token, "admin", "db.example.internal", "eu-west-1", now).IsValid); // DbConnect, not DbConnectAdmin
        Assert.False(validator.Validate(token, "app", "db.example.internal", "eu-west-1", now.AddSeconds(61)).IsValid);
    }

    [Fact]
    public void Token_command_refuses_a_lifetime_beyond_seven_days()
    {
        var ex = Assert.Throws<CommandLineException>(() => Parse(["token", "--expires-in", "604801"]));
        Assert.Contains("--expires-in", ex.Message);
        Assert.Contains("'604801'", ex.Message);
    }

    // ------------------------------------------------------------------ errors

    [Fact]
    public void Unknown_option_is_named()
    {
        var ex = Assert.Throws<CommandLineException>(() => Parse(["--port", "1", "--bogus-option", "x"]));
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
        var ex = Assert.Throws<CommandLineException>(() => Parse(["--verbose", option]));
        Assert.Contains($"'{option}'", ex.Message);
        Assert.Contains("missing", ex.Message);
    }

    [Fact]
    public void An_option_is_not_taken_as_the_previous_options_value()
    {
        var ex = Assert.Throws<CommandLineException>(() => Parse(["--backend", "--verbose"]));
        Assert.Contains("--backend needs a value", ex.Message);
        Assert.Contains("'--verbose'", ex.Message);
    }

    [Theory]
    [InlineData("70000")]
    [InlineData("-1")]
    [InlineData("54x")]
    [InlineData("65536")]
    public void Bad_port_names_option_and_value(string value)
    {
        var ex = Assert.Throws<CommandLineException>(() => Parse(["--port", value]));
        Assert.Contains("--port", ex.Message);
        Assert.Contains($"'{value}'", ex.Message);
    }

    [Fact]
    public void Bad_endpoint_port_names_option_and_value()
    {
        var ex = Assert.Throws<CommandLineException>(() => Parse(["--endpoint", "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws:99999"]));
        Assert.Contains("--endpoint", ex.Message);
        Assert.Contains("'99999'", ex.Message);
    }

    [Fact]
    public void Port_and_endpoint_port_that_disagree_are_refused()
    {
        var ex = Assert.Throws<CommandLineException>(() => Parse(["--endpoint", "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws:5433", "--port", "5434"]));
        Assert.Contains("--port 5434", ex.Message);
        Assert.Contains("5433", ex.Message);
    }

    [Fact]
    public void Access_key_without_secret_is_refused()
    {
        var ex = Assert.Throws<CommandLineException>(() => Parse(["--access-key", "AKIAFIRSTKEY00000001"]));
        Assert.Contains("--access-key", ex.Message);
        Assert.Contains("--secret-key", ex.Message);
    }

    [Fact]
    public void Secret_without_access_key_is_refused_without_echoing_the_secret()
    {
        var ex = Assert.Throws<CommandLineException>(() => Parse(["--secret-key", "do-not-print-me"]));
        Assert.Contains("--access-key", ex.Message);
        Assert.Contains("--secret-key", ex.Message);
        Assert.DoesNotContain("do-not-print-me", ex.Message);
    }

    [Fact]
    public void Session_token_before_any_access_key_is_refused_without_echoing_the_token()
    {
        var ex = Assert.Throws<CommandLineException>(() => Parse(["--session-token", "secret-session-token", "--access-key", "ASIATEMPORARY0000001", "--secret-key", "s"]));
        Assert.Contains("--session-token", ex.Message);
        Assert.Contains("--access-key", ex.Message);
        Assert.DoesNotContain("secret-session-token", ex.Message);
    }

    [Fact]
    public void Endpoint_without_region_names_the_endpoint_and_asks_for_region()
    {
        var ex = Assert.Throws<CommandLineException>(() => Parse(["--endpoint", "db.example.internal:5433"]));
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
        var ex = Assert.Throws<CommandLineException>(() => Parse(["--region", value]));
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
        var ex = Assert.Throws<CommandLineException>(() => Parse([option, value]));
        Assert.Contains(option, ex.Message);
        Assert.Contains($"'{value}'", ex.Message);
    }

    // ------------------------------------------------------------------ the tool's process

    [Fact]
    public async Task The_tool_prints_connection_strings_serves_connections_until_sigterm_and_exits_0()
    {
        string caOut = Path.Combine(Path.GetTempPath(), "dsql-emulator-cli-test-" + Guid.NewGuid().ToString("N") + ".pem");
        await using var host = await RunningTool.StartAsync(["--port", "0", "--backend", backend.Cluster.ConnectionString, "--ca-out", caOut]);
        try
        {
            var match = Regex.Match(host.ReadyLine, @"^ready 127\.0\.0\.1:(\d+)$");
            Assert.True(match.Success, $"unexpected ready line: '{host.ReadyLine}'");
            int port = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.InRange(port, 1, 65535);

            Assert.True(File.Exists(caOut), "--ca-out file was not written");
            Assert.Contains("-----BEGIN CERTIFICATE-----", await File.ReadAllTextAsync(caOut));
            var lines = host.Lines();
            Assert.Equal(host.ReadyLine, lines[^1]); // "ready" is the last line of start-up
            Assert.Contains($"endpoint {EmulatorEndpoint.DefaultHost} region=us-east-1 listening=127.0.0.1:{port}", lines);
            string ca = Assert.Single(lines, line => line.StartsWith("ca ", StringComparison.Ordinal))["ca ".Length..];
            Assert.Contains($"connector Host={EmulatorEndpoint.DefaultHost};Host Address=127.0.0.1;Port={port};Region=us-east-1;Root Certificate={ca}", lines);
            string psql = Assert.Single(lines, line => line.StartsWith("psql ", StringComparison.Ordinal));
            Assert.Contains($"token)\" psql \"host={EmulatorEndpoint.DefaultHost} hostaddr=127.0.0.1 port={port} user=admin dbname=postgres sslmode=verify-full sslrootcert={ca}\"", psql);
            Assert.Contains(lines, line => line.StartsWith("credentials ", StringComparison.Ordinal) && line.Contains(DsqlEmulatorOptions.ExampleSecretAccessKey, StringComparison.Ordinal));

            // A token from the tool's own token command, as the psql line uses it.
            var (exitCode, token, _) = await RunToolAsync(null, "token");
            Assert.Equal(0, exitCode);
            var builder = new NpgsqlConnectionStringBuilder
            {
                Host = "127.0.0.1",
                Port = port,
                Database = "postgres",
                Username = "admin",
                Password = token.Trim(),
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

            var (stopCode, stderr) = await host.StopAsync();
            Assert.True(stopCode == 0, $"exit code {stopCode}; stderr: {stderr}");
            Assert.Contains("stopping", host.Lines());
        }
        finally
        {
            File.Delete(caOut);
        }
    }

    [Fact]
    public async Task A_key_whose_secret_comes_from_the_environment_is_accepted_and_its_secret_is_never_printed()
    {
        const string secret = "environment-only-secret-0123456789";
        var environment = new Dictionary<string, string> { [CommandLine.SecretKeyVariable] = secret };
        await using var host = await RunningTool.StartAsync(["--backend", backend.Cluster.ConnectionString, "--access-key", "AKIAENVIRONMENTKEY01"], environment);
        int port = int.Parse(host.ReadyLine[(host.ReadyLine.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);
        string ca = Assert.Single(host.Lines(), line => line.StartsWith("ca ", StringComparison.Ordinal))["ca ".Length..];

        // The token command reads the same variable.
        var (exitCode, token, _) = await RunToolAsync(environment, "token", "--access-key", "AKIAENVIRONMENTKEY01");
        Assert.Equal(0, exitCode);
        Assert.Contains("AKIAENVIRONMENTKEY01", token);
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1", Port = port, Database = "postgres", Username = "admin", Password = token.Trim(),
            SslMode = SslMode.VerifyFull, RootCertificate = ca, Pooling = false,
        };
        await using (var connection = new NpgsqlConnection(builder.ConnectionString))
            await connection.OpenAsync();

        // The example key is no longer accepted, and nothing printed holds the secret.
        builder.Password = TestTokens.Sign(EmulatorEndpoint.DefaultHost, "us-east-1", "admin", DateTimeOffset.UtcNow);
        await using (var refused = new NpgsqlConnection(builder.ConnectionString))
            Assert.Equal("28000", (await Assert.ThrowsAsync<PostgresException>(() => refused.OpenAsync())).SqlState);
        var (stopCode, stderr) = await host.StopAsync();
        Assert.Equal(0, stopCode);
        string printed = string.Join("\n", host.Lines()) + stderr;
        Assert.Contains("credentials access key AKIAENVIRONMENTKEY01", printed);
        Assert.DoesNotContain(secret, printed);
        Assert.DoesNotContain(DsqlEmulatorOptions.ExampleSecretAccessKey, printed);
    }

    [Fact]
    public async Task Help_prints_usage_and_exits_0()
    {
        var (exitCode, stdout, _) = await RunToolAsync(null, "--help");
        Assert.Equal(0, exitCode);
        Assert.Contains("Usage", stdout);
        Assert.Contains("--endpoint", stdout);
        Assert.Contains(DsqlEmulatorOptions.ExampleSecretAccessKey, stdout);
    }

    [Fact]
    public async Task A_bad_option_exits_2_with_an_error_on_stderr()
    {
        var (exitCode, stdout, stderr) = await RunToolAsync(null, "--no-such-option");
        Assert.Equal(2, exitCode);
        Assert.StartsWith("error:", stderr);
        Assert.Contains("--no-such-option", stderr);
        Assert.DoesNotContain("ready", stdout);
    }

    private static Process StartTool(IReadOnlyDictionary<string, string>? environment, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        startInfo.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Dsql.Emulator.Tool.dll"));
        foreach (string argument in arguments) startInfo.ArgumentList.Add(argument);
        startInfo.Environment.Remove(CommandLine.SecretKeyVariable);
        startInfo.Environment.Remove(CommandLine.SessionTokenVariable);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) startInfo.Environment[name] = value;
        return Process.Start(startInfo) ?? throw new InvalidOperationException("could not start the dsql-emulator tool");
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunToolAsync(IReadOnlyDictionary<string, string>? environment, params string[] arguments)
    {
        using var process = StartTool(environment, arguments);
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

    /// <summary>The tool started as a process of its own, read until its "ready" line.</summary>
    private sealed class RunningTool : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly List<string> _stdout;
        private readonly Task<string> _stderr;

        private RunningTool(Process process, List<string> stdout, Task<string> stderr, string readyLine)
        {
            _process = process;
            _stdout = stdout;
            _stderr = stderr;
            ReadyLine = readyLine;
        }

        public string ReadyLine { get; }

        public static async Task<RunningTool> StartAsync(string[] arguments, IReadOnlyDictionary<string, string>? environment = null)
        {
            var process = StartTool(environment, arguments);
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
                return new RunningTool(process, stdout, stderr, await ready.Task.WaitAsync(ProcessLimit));
            }
            catch (Exception ex)
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOperationException($"the tool did not get ready: {ex.Message}; stderr: {await stderr}", ex);
            }
        }

        public List<string> Lines()
        {
            lock (_stdout) return [.. _stdout];
        }

        /// <summary>Sends SIGTERM and waits for the exit; returns the exit code and stderr.</summary>
        public async Task<(int ExitCode, string Stderr)> StopAsync()
        {
            using (var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })!)
            {
                await kill.WaitForExitAsync();
                Assert.Equal(0, kill.ExitCode);
            }
            using (var exitWait = new CancellationTokenSource(ProcessLimit))
                await _process.WaitForExitAsync(exitWait.Token);
            return (_process.ExitCode, await _stderr);
        }

        public ValueTask DisposeAsync()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
