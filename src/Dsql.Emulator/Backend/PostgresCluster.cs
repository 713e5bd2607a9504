using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dsql.Emulator.Backend;

/// <summary>Settings of a throwaway PostgreSQL cluster.</summary>
public sealed class PostgresClusterOptions
{
    /// <summary>Directory of initdb, pg_ctl and postgres. Default: <c>PG_BIN</c>, PATH, then the newest <c>/usr/lib/postgresql/*/bin</c>.</summary>
    public string? BinDirectory { get; set; }

    /// <summary>
    /// PostgreSQL's <c>max_connections</c>. Every emulator session holds one backend session, so this caps the
    /// sessions all emulators on this cluster can hold together. Default 1,200: room for 1,000 client sessions plus
    /// the emulator's own, within the memory of a small machine.
    /// </summary>
    public int MaxConnections { get; set; } = 1200;

    /// <summary>PEM certificate and key to serve TLS on the cluster's own TCP port (for direct comparisons); none by default.</summary>
    public (string CertificatePem, string KeyPem)? Tls { get; set; }

    /// <summary>System user that runs PostgreSQL when this process is root (PostgreSQL refuses root). Default <c>postgres</c>.</summary>
    public string SystemUserWhenRoot { get; set; } = "postgres";
}

/// <summary>
/// A throwaway PostgreSQL cluster: initialized in a temporary directory, started on a free loopback port with
/// durability off (it is for tests), reachable over TCP and a Unix socket, and deleted on dispose.
/// Its superuser is <c>admin</c> with trust authentication on loopback, DSQL's administrative role.
/// </summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    /// <summary>The superuser role the cluster is initialized with.</summary>
    public const string SuperUser = "admin";

    private static readonly string Root = Path.Combine(Path.GetTempPath(), "dsql-emulator");
    private readonly string _baseDirectory;
    private readonly string? _runAs;
    private readonly ILogger _logger;
    private int _disposed;

    private PostgresCluster(string binDirectory, string baseDirectory, int port, string? runAs, string version, ILogger logger)
    {
        BinDirectory = binDirectory;
        _baseDirectory = baseDirectory;
        Port = port;
        _runAs = runAs;
        Version = version;
        _logger = logger;
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
    }

    /// <summary>Directory of the server programs in use.</summary>
    public string BinDirectory { get; }

    /// <summary>The cluster's data directory.</summary>
    public string DataDirectory => Path.Combine(_baseDirectory, "data");

    /// <summary>Directory of the cluster's Unix socket.</summary>
    public string SocketDirectory => Path.Combine(_baseDirectory, "sock");

    /// <summary>The loopback TCP port the cluster listens on.</summary>
    public int Port { get; }

    /// <summary>The server's version string, e.g. <c>15.18</c>.</summary>
    public string Version { get; }

    /// <summary>Connection string over the Unix socket (the fastest path), for the emulator or for Npgsql.</summary>
    public string ConnectionString => $"Host={SocketDirectory};Port={Port.ToString(CultureInfo.InvariantCulture)};Database=postgres;Username={SuperUser}";

    /// <summary>Connection string over loopback TCP.</summary>
    public string TcpConnectionString => $"Host=127.0.0.1;Port={Port.ToString(CultureInfo.InvariantCulture)};Database=postgres;Username={SuperUser}";

    /// <summary>Creates and starts a cluster. Takes about a second on a small machine.</summary>
    public static async Task<PostgresCluster> StartAsync(PostgresClusterOptions? options = null, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        options ??= new PostgresClusterOptions();
        logger ??= NullLogger.Instance;
        if (options.MaxConnections < 10)
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxConnections, "PostgresClusterOptions.MaxConnections must be at least 10.");
        string bin = PostgresBinaries.Locate(options.BinDirectory);
        string? runAs = Environment.IsPrivilegedProcess ? options.SystemUserWhenRoot : null;

        PrepareRoot();
        SweepAbandonedClusters(bin, runAs);
        string baseDirectory = Path.Combine(Root, Convert.ToHexString(RandomNumberGenerator.GetBytes(6)).ToLowerInvariant());
        Directory.CreateDirectory(baseDirectory);
        Directory.CreateDirectory(Path.Combine(baseDirectory, "sock"));
        await File.WriteAllTextAsync(Path.Combine(baseDirectory, "owner.pid"), Environment.ProcessId.ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false);
        try
        {
            string versionText = await ProcessRunner.RunAsync(Path.Combine(bin, "postgres"), ["--version"], null, cancellationToken).ConfigureAwait(false);
            string version = versionText.Trim().Split(' ')[^1];
            if (runAs is not null)
                await ProcessRunner.RunAsync("chown", ["-R", runAs + ":", baseDirectory], null, cancellationToken).ConfigureAwait(false);

            await ProcessRunner.RunAsync(Path.Combine(bin, "initdb"),
                ["-D", Path.Combine(baseDirectory, "data"), "-U", SuperUser, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
                runAs, cancellationToken).ConfigureAwait(false);

            for (int attempt = 1; ; attempt++)
            {
                int port = FreeLoopbackPort();
                await WriteConfigurationAsync(baseDirectory, port, options, runAs, cancellationToken).ConfigureAwait(false);
                try
                {
                    await ProcessRunner.RunAsync(Path.Combine(bin, "pg_ctl"),
                        ["-D", Path.Combine(baseDirectory, "data"), "-l", Path.Combine(baseDirectory, "postgres.log"), "-w", "-t", "30", "-s", "start"],
                        runAs, cancellationToken).ConfigureAwait(false);
                }
                catch (InvalidOperationException ex) when (attempt < 3)
                {
                    // Another process may have taken the port between the probe and the start.
                    logger.LogDebug(ex, "PostgreSQL did not start on port {Port}; trying another port", port);
                    continue;
                }
                catch (InvalidOperationException ex)
                {
                    string log = File.Exists(Path.Combine(baseDirectory, "postgres.log")) ? await File.ReadAllTextAsync(Path.Combine(baseDirectory, "postgres.log"), cancellationToken).ConfigureAwait(false) : "";
                    throw new InvalidOperationException($"PostgreSQL did not start: {ex.Message}{Environment.NewLine}{log}", ex);
                }
                logger.LogInformation("PostgreSQL {Version} started on 127.0.0.1:{Port} in {Directory}", version, port, baseDirectory);
                return new PostgresCluster(bin, baseDirectory, port, runAs, version, logger);
            }
        }
        catch
        {
            await StopAndDeleteAsync(bin, baseDirectory, runAs).ConfigureAwait(false);
            throw;
        }
    }

    private static async Task WriteConfigurationAsync(string baseDirectory, int port, PostgresClusterOptions options, string? runAs, CancellationToken cancellationToken)
    {
        var conf = new StringBuilder();
        conf.AppendLine("# Written by the DSQL emulator: a throwaway cluster, durability off.");
        conf.AppendLine("listen_addresses = '127.0.0.1'");
        conf.AppendLine(CultureInfo.InvariantCulture, $"port = {port}");
        conf.AppendLine(CultureInfo.InvariantCulture, $"unix_socket_directories = '{Path.Combine(baseDirectory, "sock")}'");
        conf.AppendLine(CultureInfo.InvariantCulture, $"max_connections = {options.MaxConnections}");
        conf.AppendLine("fsync = off");
        conf.AppendLine("synchronous_commit = off");
        conf.AppendLine("full_page_writes = off");
        conf.AppendLine("shared_buffers = 128MB");
        conf.AppendLine("timezone = 'UTC'");
        conf.AppendLine("log_timezone = 'UTC'");
        conf.AppendLine("log_min_messages = warning");
        conf.AppendLine("log_min_error_statement = panic");
        if (options.Tls is { } tls)
        {
            string cert = Path.Combine(baseDirectory, "server.crt"), key = Path.Combine(baseDirectory, "server.key");
            await File.WriteAllTextAsync(cert, tls.CertificatePem, cancellationToken).ConfigureAwait(false);
            await File.WriteAllTextAsync(key, tls.KeyPem, cancellationToken).ConfigureAwait(false);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            if (runAs is not null)
                await ProcessRunner.RunAsync("chown", [runAs + ":", cert, key], null, cancellationToken).ConfigureAwait(false);
            conf.AppendLine("ssl = on");
            conf.AppendLine(CultureInfo.InvariantCulture, $"ssl_cert_file = '{cert}'");
            conf.AppendLine(CultureInfo.InvariantCulture, $"ssl_key_file = '{key}'");
        }
        // postgresql.auto.conf is read last and is owned by the server's user already.
        await File.WriteAllTextAsync(Path.Combine(baseDirectory, "data", "postgresql.auto.conf"), conf.ToString(), cancellationToken).ConfigureAwait(false);
    }

    private static void PrepareRoot()
    {
        if (Directory.Exists(Root)) return;
        Directory.CreateDirectory(Root);
        // Shared by every user of the machine, like /tmp itself.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Root, (UnixFileMode)Convert.ToInt32("1777", 8));
    }

    /// <summary>Stops and deletes clusters whose owning process is gone (a test run that was killed).</summary>
    private static void SweepAbandonedClusters(string bin, string? runAs)
    {
        foreach (var directory in Directory.GetDirectories(Root))
        {
            string pidFile = Path.Combine(directory, "owner.pid");
            try
            {
                if (!File.Exists(pidFile)) continue;
                if (int.TryParse(File.ReadAllText(pidFile), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && IsAlive(pid)) continue;
                StopAndDeleteAsync(bin, directory, runAs).GetAwaiter().GetResult();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Someone else's cluster, or one being removed right now.
            }
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static int FreeLoopbackPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    private static async Task StopAndDeleteAsync(string bin, string baseDirectory, string? runAs)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        if (File.Exists(Path.Combine(baseDirectory, "data", "postmaster.pid")))
        {
            await ProcessRunner.RunAsync(Path.Combine(bin, "pg_ctl"), ["-D", Path.Combine(baseDirectory, "data"), "-m", "immediate", "-w", "-s", "stop"],
                runAs, cts.Token, throwOnFailure: false).ConfigureAwait(false);
        }
        try
        {
            Directory.Delete(baseDirectory, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Left for the next sweep.
        }
    }

    private void OnProcessExit(object? sender, EventArgs e)
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        ProcessRunner.RunBlocking(Path.Combine(BinDirectory, "pg_ctl"), ["-D", DataDirectory, "-m", "immediate", "-w", "-s", "stop"], _runAs, TimeSpan.FromSeconds(10));
        try { Directory.Delete(_baseDirectory, recursive: true); } catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>Stops the server at once (it holds nothing worth keeping) and deletes its directory.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        await StopAndDeleteAsync(BinDirectory, _baseDirectory, _runAs).ConfigureAwait(false);
        _logger.LogInformation("PostgreSQL on port {Port} stopped and deleted", Port);
    }
}
