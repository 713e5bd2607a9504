using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Amazon;
using Amazon.Runtime;
using Amazon.Runtime.Signing;
using Dsql.Emulator;
using Npgsql;

namespace Dsql.Connector.Benchmarks.Lab;

/// <summary>
/// An emulator in a process of its own (the command-line host, as users run it), with an endpoint name of its own,
/// and the two kinds of client every comparison needs: the connector and bare Npgsql configured alike (same
/// endpoint, verify-full TLS against the emulator's CA, loopback). A separate process keeps the emulator's CPU,
/// thread pool and allocations out of the client's figures; a fresh cluster id per endpoint keeps the connector's
/// process-wide rate buckets apart between scenarios.
/// </summary>
internal sealed class LabEndpoint : IAsyncDisposable
{
    public static readonly BasicAWSCredentials Credentials = new(DsqlEmulatorOptions.ExampleAccessKeyId, DsqlEmulatorOptions.ExampleSecretAccessKey);

    /// <summary>Emulator arguments that lift the connection-rate limit, for scenarios that measure something else.</summary>
    public static readonly string[] Unlimited = ["--connection-rate", "1000000", "--connection-burst", "1000000"];

    private readonly Process _process;
    private readonly string _directory;

    private LabEndpoint(Process process, string directory, string host, int port, string caCertificatePath)
    {
        _process = process;
        _directory = directory;
        Host = host;
        Port = port;
        CaCertificatePath = caCertificatePath;
    }

    /// <summary>The DSQL endpoint name tokens are signed for.</summary>
    public string Host { get; }

    public string Region => "us-east-1";

    /// <summary>The loopback port the emulator listens on.</summary>
    public int Port { get; }

    /// <summary>The emulator's CA certificate (PEM), for verify-full.</summary>
    public string CaCertificatePath { get; }

    /// <summary>The emulator's process id, for reading its memory.</summary>
    public int ProcessId => _process.Id;

    /// <summary>Starts the emulator host with its own throwaway PostgreSQL and the given extra arguments (DSQL's limits by default).</summary>
    public static async Task<LabEndpoint> StartAsync(params string[] arguments)
    {
        string emulator = Path.Combine(AppContext.BaseDirectory, "Dsql.Emulator.Tool.dll");
        if (!File.Exists(emulator)) throw new FileNotFoundException($"The emulator host was not found next to the lab at '{emulator}'; build tests/Dsql.Connector.Benchmarks.", emulator);
        string directory = Directory.CreateTempSubdirectory("dsql-lab-").FullName;
        string host = $"{UniqueClusterId()}.dsql.us-east-1.on.aws";
        string ca = Path.Combine(directory, "ca.pem");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in (string[])[emulator, "--endpoint", host, "--ca-out", ca, .. arguments]) start.ArgumentList.Add(argument);
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the emulator host (dotnet).");
        var errors = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (errors)
            {
                if (errors.Length < 16_000) errors.AppendLine(e.Data);
            }
        };
        process.BeginErrorReadLine();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (true)
            {
                string? line = await process.StandardOutput.ReadLineAsync(timeout.Token);
                if (line is null)
                {
                    await process.WaitForExitAsync(timeout.Token);
                    throw new InvalidOperationException($"The emulator host exited ({process.ExitCode}) before it was ready: {Tail(errors)}");
                }
                if (line.StartsWith("ready ", StringComparison.Ordinal))
                {
                    int port = int.Parse(line[(line.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);
                    _ = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null); // keep its output flowing
                    return new LabEndpoint(process, directory, host, port, ca);
                }
            }
        }
        catch
        {
            await StopAsync(process);
            Directory.Delete(directory, recursive: true);
            throw;
        }
    }

    /// <summary>The connector's connection string for this endpoint, reached at 127.0.0.1 (a tunnel, as a user would write it).</summary>
    public string ConnectorConnectionString(string? extra = null)
        => string.Create(CultureInfo.InvariantCulture, $"Host={Host};Host Address=127.0.0.1;Port={Port};Root Certificate={CaCertificatePath}")
           + (extra is null ? "" : ";" + extra);

    /// <summary>A connector data source for this endpoint with the example credentials the emulator accepts.</summary>
    public DsqlDataSource Connector(string? extra = null)
        => new DsqlDataSourceBuilder(ConnectorConnectionString(extra)).UseCredentials(Credentials).Build();

    /// <summary>
    /// Bare Npgsql set up as the connector sets itself up (verify-full, direct TLS, no reset on close, no enlistment,
    /// GSS encryption off), without a password: add one with <see cref="StaticToken"/> or a password provider.
    /// </summary>
    public string BareConnectionString(string? extra = null)
        => string.Create(CultureInfo.InvariantCulture,
               $"Host=127.0.0.1;Port={Port};Username=admin;Database=postgres;SSL Mode=VerifyFull;SSL Negotiation=Direct;Root Certificate={CaCertificatePath};")
           + "No Reset On Close=true;Enlist=false;Gss Encryption Mode=Disable" + (extra is null ? "" : ";" + extra);

    /// <summary>
    /// A bare Npgsql builder for this endpoint whose TLS names the endpoint (SNI and the certificate check), as a
    /// client that resolves the DSQL host name would: the loopback address alone would change the handshake (no SNI,
    /// no TLS session resumption) and make the comparison about the address rather than the connector.
    /// </summary>
    public NpgsqlDataSourceBuilder BareBuilder(string? extra = null)
    {
        var builder = new NpgsqlDataSourceBuilder(BareConnectionString(extra));
        string host = Host;
        builder.UseSslClientAuthenticationOptionsCallback(options => options.TargetHost = host);
        return builder;
    }

    /// <summary>Bare Npgsql with one token signed up front and used as a static password.</summary>
    public NpgsqlDataSource Bare(string? extra = null)
    {
        var builder = BareBuilder(extra);
        builder.ConnectionStringBuilder.Password = StaticToken();
        return builder.Build();
    }

    /// <summary>One token for the admin role valid for an hour: what a static password would be.</summary>
    public string StaticToken() => new DsqlTokenGenerator(Credentials).GenerateToken(Host, Region, "admin", TimeSpan.FromHours(1));

    /// <summary>
    /// A token signed by AWSSDK.Core's SigV4 presigner, the signing AWS's own DSQL token generator performs: the
    /// baseline for "signing per connect".
    /// </summary>
    public string SignWithAwsSdk()
    {
        var request = new AWSSigningRequest { HttpMethod = HttpMethod.Get, RequestUri = new Uri($"https://{Host}/?Action=DbConnectAdmin") };
        var parameters = new AWSSigV4Parameters { Credentials = Credentials, Region = RegionEndpoint.GetBySystemName(Region), Service = "dsql" };
        return AWSSigV4Signer.Presign(request, parameters, TimeSpan.FromMinutes(15)).Uri.AbsoluteUri["https://".Length..];
    }

    public static string UniqueClusterId()
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
        return string.Create(26, 0, (span, _) =>
        {
            for (int i = 0; i < span.Length; i++) span[i] = alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)];
        });
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(_process);
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>SIGTERM, so the host stops its throwaway PostgreSQL and deletes it; killed if it has not exited within 30 s.</summary>
    private static async Task StopAsync(Process process)
    {
        using (process)
        {
            if (process.HasExited) return;
            using (var term = Process.Start(new ProcessStartInfo("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false }))
            {
                if (term is not null) await term.WaitForExitAsync();
            }
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await process.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }
    }

    private static string Tail(StringBuilder text)
    {
        lock (text)
        {
            string all = text.ToString().Trim();
            return all.Length <= 2_000 ? all : "..." + all[^2_000..];
        }
    }
}
