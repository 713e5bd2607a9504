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

    /// <summary>
    /// PEM certificate and key to serve TLS on a loopback TCP port (127.0.0.1), for direct comparisons with the
    /// emulator. None by default, and then the cluster has no TCP listener at all. Over TCP only
    /// <see cref="PostgresCluster.SuperUser"/> may log in, with the cluster's generated password (SCRAM-SHA-256).
    /// </summary>
    public (string CertificatePem, string KeyPem)? Tls { get; set; }

    /// <summary>System user that runs PostgreSQL when this process is root (PostgreSQL refuses root). Default <c>postgres</c>.</summary>
    public string SystemUserWhenRoot { get; set; } = "postgres";

    /// <summary>
    /// More server settings, written after the cluster's own (so they win), for example <c>wal_level = logical</c>
    /// with <c>max_replication_slots</c> and <c>max_wal_senders</c> for a logical replication source. Names are
    /// PostgreSQL parameter names (letters, digits, <c>_</c> and <c>.</c>); values are written quoted. Empty by default.
    /// </summary>
    public IDictionary<string, string> ServerSettings { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
}

/// <summary>
/// A throwaway PostgreSQL cluster, initialized in a temporary directory and deleted on dispose.
/// </summary>
/// <remarks>
/// <para>Reachable only by its owner: the server listens on a Unix socket in a directory that only this process's
/// system user (and PostgreSQL's, when this process is root) can enter, and on no TCP port unless
/// <see cref="PostgresClusterOptions.Tls"/> asks for one.</para>
/// <para>Its superuser, <see cref="SuperUser"/>, logs in with a password generated for this cluster (SCRAM-SHA-256);
/// every other role logs in on the socket without one. The emulator uses the superuser only to install its
/// helpers; sessions through the emulator's endpoints are never superusers.</para>
/// <para>Durability: every commit is written to the write-ahead log before it is acknowledged
/// (<c>synchronous_commit = on</c>), so a crashed server process loses nothing that was acknowledged; the log is not
/// flushed to disk (<c>fsync = off</c>), so a crash of the machine itself may lose or corrupt the cluster, which is
/// throwaway.</para>
/// </remarks>
public sealed class PostgresCluster : IAsyncDisposable
{
    /// <summary>
    /// The superuser role the cluster is initialized with (PostgreSQL's usual bootstrap superuser). DSQL's
    /// <c>admin</c> is an ordinary role, created by the emulator when it installs its helpers.
    /// </summary>
    public const string SuperUser = "postgres";

    private static readonly string Root = Path.Combine(Path.GetTempPath(), "dsql-emulator");

    /// <summary>How long a directory whose owner file cannot be read is left alone before it counts as abandoned.</summary>
    private static readonly TimeSpan UnreadableOwnerGrace = TimeSpan.FromMinutes(1);
    private readonly string _baseDirectory;
    private readonly string? _runAs;
    private readonly ILogger _logger;
    private readonly string _password;
    private readonly bool _tcp;
    private int _disposed;

    private PostgresCluster(string binDirectory, string baseDirectory, int port, string? runAs, string version, string password, bool tcp, ILogger logger)
    {
        BinDirectory = binDirectory;
        _baseDirectory = baseDirectory;
        Port = port;
        _runAs = runAs;
        Version = version;
        _password = password;
        _tcp = tcp;
        _logger = logger;
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
    }

    /// <summary>Directory of the server programs in use.</summary>
    public string BinDirectory { get; }

    /// <summary>The cluster's data directory.</summary>
    public string DataDirectory => Path.Combine(_baseDirectory, "data");

    /// <summary>Directory of the cluster's Unix socket.</summary>
    public string SocketDirectory => Path.Combine(_baseDirectory, "sock");

    /// <summary>
    /// The cluster's port number: it names the Unix socket (<c>.s.PGSQL.&lt;port&gt;</c>) and, with
    /// <see cref="PostgresClusterOptions.Tls"/>, is the loopback TCP port.
    /// </summary>
    public int Port { get; }

    /// <summary>The server's version string, e.g. <c>15.18</c>.</summary>
    public string Version { get; }

    /// <summary>
    /// Connection string of the superuser over the Unix socket (the fastest path), for the emulator or for Npgsql.
    /// It holds the cluster's password: keep it in the process, do not print it.
    /// </summary>
    public string ConnectionString => $"Host={SocketDirectory};Port={Port.ToString(CultureInfo.InvariantCulture)};Database=postgres;Username={SuperUser};Password={_password}";

    /// <summary>Connection string of the superuser over loopback TCP; only with <see cref="PostgresClusterOptions.Tls"/>.</summary>
    /// <exception cref="InvalidOperationException">The cluster has no TCP listener.</exception>
    public string TcpConnectionString => _tcp
        ? $"Host=127.0.0.1;Port={Port.ToString(CultureInfo.InvariantCulture)};Database=postgres;Username={SuperUser};Password={_password}"
        : throw new InvalidOperationException("This cluster listens on its Unix socket only; set PostgresClusterOptions.Tls to get a loopback TCP listener.");

    /// <summary>Creates and starts a cluster. Takes about a second on a small machine.</summary>
    public static async Task<PostgresCluster> StartAsync(PostgresClusterOptions? options = null, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        options ??= new PostgresClusterOptions();
        logger ??= NullLogger.Instance;
        if (options.MaxConnections < 10)
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxConnections, "PostgresClusterOptions.MaxConnections must be at least 10.");
        foreach (var setting in options.ServerSettings)
        {
            if (!System.Text.RegularExpressions.Regex.IsMatch(setting.Key, "^[A-Za-z_][A-Za-z0-9_.]*$", System.Text.RegularExpressions.RegexOptions.CultureInvariant))
                throw new ArgumentException($"PostgresClusterOptions.ServerSettings: '{setting.Key}' is not a PostgreSQL parameter name.", nameof(options));
            ArgumentNullException.ThrowIfNull(setting.Value, nameof(options));
        }
        string bin = PostgresBinaries.Locate(options.BinDirectory);
        string? runAs = Environment.IsPrivilegedProcess ? options.SystemUserWhenRoot : null;

        PrepareRoot();
        SweepAbandonedClusters(bin, runAs);
        string baseDirectory = Path.Combine(Root, Convert.ToHexString(RandomNumberGenerator.GetBytes(6)).ToLowerInvariant());
        CreatePrivateDirectory(baseDirectory);
        CreatePrivateDirectory(Path.Combine(baseDirectory, "sock"));
        await WriteOwnerAsync(baseDirectory, cancellationToken).ConfigureAwait(false);
        string password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
        string passwordFile = Path.Combine(baseDirectory, "superuser.pw");
        try
        {
            string versionText = await ProcessRunner.RunAsync(Path.Combine(bin, "postgres"), ["--version"], null, cancellationToken).ConfigureAwait(false);
            string version = ParseVersion(versionText);
            await File.WriteAllTextAsync(passwordFile, password, cancellationToken).ConfigureAwait(false);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            if (runAs is not null)
                await ProcessRunner.RunAsync("chown", ["-R", runAs + ":", baseDirectory], null, cancellationToken).ConfigureAwait(false);

            await ProcessRunner.RunAsync(Path.Combine(bin, "initdb"),
                ["-D", Path.Combine(baseDirectory, "data"), "-U", SuperUser, "--pwfile", passwordFile, "--auth-local", "scram-sha-256", "--auth-host", "scram-sha-256",
                 "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
                runAs, cancellationToken).ConfigureAwait(false);
            File.Delete(passwordFile);
            await WriteAuthenticationRulesAsync(baseDirectory, options.Tls is not null, cancellationToken).ConfigureAwait(false);

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
                if (options.Tls is null) logger.LogInformation("PostgreSQL {Version} started on a private Unix socket in {Directory}", version, baseDirectory);
                else logger.LogInformation("PostgreSQL {Version} started on a private Unix socket in {Directory} and on 127.0.0.1:{Port} (TLS)", version, baseDirectory, port);
                return new PostgresCluster(bin, baseDirectory, port, runAs, version, password, options.Tls is not null, logger);
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
        conf.AppendLine("# Written by the DSQL emulator: a throwaway cluster, reachable only through a private Unix socket.");
        // TCP only when asked for (direct comparisons in the performance lab); the socket's directory is private.
        conf.AppendLine(options.Tls is null ? "listen_addresses = ''" : "listen_addresses = '127.0.0.1'");
        conf.AppendLine(CultureInfo.InvariantCulture, $"port = {port}");
        conf.AppendLine(CultureInfo.InvariantCulture, $"unix_socket_directories = '{Path.Combine(baseDirectory, "sock")}'");
        conf.AppendLine("unix_socket_permissions = 0700");
        conf.AppendLine(CultureInfo.InvariantCulture, $"max_connections = {options.MaxConnections}");
        // An acknowledged commit is in the write-ahead log (the operating system's cache), so a crashed server
        // process loses none; the log is not flushed to disk, so a machine crash may lose the throwaway cluster.
        conf.AppendLine("synchronous_commit = on");
        conf.AppendLine("fsync = off");
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
        foreach (var setting in options.ServerSettings)
            conf.AppendLine(CultureInfo.InvariantCulture, $"{setting.Key} = '{setting.Value.Replace("'", "''", StringComparison.Ordinal)}'");
        // postgresql.auto.conf is read last and is owned by the server's user already.
        await File.WriteAllTextAsync(Path.Combine(baseDirectory, "data", "postgresql.auto.conf"), conf.ToString(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// pg_hba.conf: the superuser needs the cluster's password everywhere; other roles log in on the Unix socket
    /// without one (its directory admits only this process's user); TCP, when there is any, takes the password only.
    /// Replication connections follow the same rules on the socket (a role still needs the REPLICATION attribute, and
    /// the server a <c>wal_level</c> and wal senders that allow them).
    /// </summary>
    private static async Task WriteAuthenticationRulesAsync(string baseDirectory, bool tcp, CancellationToken cancellationToken)
    {
        var hba = new StringBuilder();
        hba.AppendLine("# Written by the DSQL emulator.");
        hba.AppendLine(CultureInfo.InvariantCulture, $"local all {SuperUser} scram-sha-256");
        hba.AppendLine("local all all trust");
        hba.AppendLine(CultureInfo.InvariantCulture, $"local replication {SuperUser} scram-sha-256");
        hba.AppendLine("local replication all trust");
        if (tcp) hba.AppendLine(CultureInfo.InvariantCulture, $"hostssl all {SuperUser} 127.0.0.1/32 scram-sha-256");
        // The file exists (initdb wrote it) and belongs to the server's user already.
        await File.WriteAllTextAsync(Path.Combine(baseDirectory, "data", "pg_hba.conf"), hba.ToString(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads <c>15.18</c> out of <c>postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)</c>.</summary>
    internal static string ParseVersion(string versionOutput)
    {
        var match = System.Text.RegularExpressions.Regex.Match(versionOutput, @"\(PostgreSQL\)\s+(\d+(?:\.\d+)*)", System.Text.RegularExpressions.RegexOptions.CultureInvariant);
        if (match.Success) return match.Groups[1].Value;
        var number = System.Text.RegularExpressions.Regex.Match(versionOutput, @"\d+(?:\.\d+)+", System.Text.RegularExpressions.RegexOptions.CultureInvariant);
        return number.Success ? number.Value : versionOutput.Trim();
    }

    private static void CreatePrivateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }
        // Created with mode 0700 at once: no moment in which another user could enter it.
        Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private static void PrepareRoot()
    {
        if (Directory.Exists(Root)) return;
        Directory.CreateDirectory(Root);
        // Shared by every user of the machine, like /tmp itself.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Root, (UnixFileMode)Convert.ToInt32("1777", 8));
    }

    /// <summary>
    /// Writes this process's id to <c>owner.pid</c> in <paramref name="directory"/> (a cluster's, or an emulator's
    /// work directory under the same root), whole or not at all: written beside it, then renamed into place. Another
    /// process sweeping the root at that moment sees no owner file or a complete one, never an empty one it would
    /// take for an abandoned directory.
    /// </summary>
    internal static async Task WriteOwnerAsync(string directory, CancellationToken cancellationToken)
    {
        string pending = Path.Combine(directory, "owner.pid.pending");
        await File.WriteAllTextAsync(pending, Environment.ProcessId.ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false);
        File.Move(pending, Path.Combine(directory, "owner.pid"), overwrite: true);
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
                bool known = int.TryParse(File.ReadAllText(pidFile), NumberStyles.None, CultureInfo.InvariantCulture, out int pid);
                if (known && IsAlive(pid)) continue;
                // An unreadable owner may be one being written right now by a version that did not write it whole.
                if (!known && DateTime.UtcNow - File.GetLastWriteTimeUtc(pidFile) < UnreadableOwnerGrace) continue;
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
