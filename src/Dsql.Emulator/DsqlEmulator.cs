using System.Collections.Concurrent;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using Dsql.Emulator.Auth;
using Dsql.Emulator.Backend;
using Dsql.Emulator.Front;
using Dsql.Emulator.Protocol;
using Dsql.Emulator.Rules;
using Dsql.Emulator.Tls;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dsql.Emulator;

/// <summary>
/// A local Aurora DSQL emulator: a PostgreSQL-protocol front end on loopback that asks for TLS and an IAM token
/// like DSQL, enforces DSQL's limits and refusals, and proxies each session to a real PostgreSQL server.
/// </summary>
/// <example>
/// <code>
/// await using var emulator = await DsqlEmulator.StartAsync();
/// var endpoint = emulator.Endpoints[0];
/// // Sign a token for endpoint.Host / endpoint.Region with the example key, then connect to
/// // endpoint.ListenAddress:endpoint.Port with verify-full TLS against endpoint.CaCertificatePath.
/// </code>
/// </example>
public sealed class DsqlEmulator : IAsyncDisposable, ISessionRegistry
{
    /// <summary>How often the job runner looks for jobs it was not told about (sessions tell it at once).</summary>
    private static readonly TimeSpan JobPollInterval = TimeSpan.FromMilliseconds(250);

    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<long, ClientSession> _sessions = new();
    private readonly ConcurrentDictionary<long, ClientSession> _cancelKeys = new();
    private readonly List<EndpointListener> _listeners = new();
    private readonly TaskCompletionSource _sessionsEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private static readonly TimeSpan SessionUnwindLimit = TimeSpan.FromSeconds(1);
    private readonly List<EmulatorEndpointInfo> _endpoints = new();
    private readonly EmulatorCertificates _certificates;
    private readonly string _workDirectory;
    private PostgresCluster? _cluster;
    private SessionServices? _sessionServices;
    private ITimer? _supervisor;
    private long _nextSessionId;
    private int _disposed;

    private DsqlEmulator(DsqlEmulatorOptions options, ILogger logger, EmulatorCertificates certificates, string workDirectory)
    {
        Options = options;
        Logger = logger;
        Clock = new EmulatorClock(options.TimeProvider);
        Faults = new EmulatorFaults(this);
        _certificates = certificates;
        _workDirectory = workDirectory;
        var keys = options.AccessKeys.Count > 0
            ? options.AccessKeys
            : [new EmulatorAccessKey(DsqlEmulatorOptions.ExampleAccessKeyId, DsqlEmulatorOptions.ExampleSecretAccessKey)];
        TokenValidator = new DsqlTokenValidator(keys, options.AllowedClockSkew);
        CaCertificatePath = Path.Combine(workDirectory, "dsql-emulator-ca.pem");
        TlsOptions = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = SslStreamCertificateContext.Create(certificates.Server, [certificates.Authority], offline: true),
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            ClientCertificateRequired = false,
            AllowRenegotiation = false,
            ApplicationProtocols = [new SslApplicationProtocol("postgresql")],
        };
        Backend = null!;
    }

    /// <summary>The running endpoints, in the order configured.</summary>
    public IReadOnlyList<EmulatorEndpointInfo> Endpoints => _endpoints;

    /// <summary>The CA certificate (PEM) that signed the server certificate: trust it for verify-full.</summary>
    public string CaCertificatePem => _certificates.AuthorityPem;

    /// <summary>A PEM file holding <see cref="CaCertificatePem"/>.</summary>
    public string CaCertificatePath { get; }

    /// <summary>The emulator's clock; move it with <see cref="EmulatorFaults.AdvanceClock"/>.</summary>
    public EmulatorClock Clock { get; }

    /// <summary>Fault injection: refuse connects, add latency, pause accepting, close sessions, move the clock.</summary>
    public EmulatorFaults Faults { get; }

    /// <summary>Write-write conflicts reported so far, by where the client learnt of them (at COMMIT, as on DSQL, or at the statement).</summary>
    public ConflictStatistics ConflictStats { get; } = new();

    /// <summary>Sessions past authentication, on all endpoints.</summary>
    public int OpenSessionCount
    {
        get
        {
            int count = 0;
            foreach (var session in _sessions.Values)
                if (session.IsProxying) count++;
            return count;
        }
    }

    /// <summary>Every session the emulator tracks, including those still in their handshake.</summary>
    internal int TrackedSessionCount => _sessions.Count;

    /// <summary>Connections counted against <see cref="DsqlEmulatorOptions.MaxPendingHandshakes"/> now, on all endpoints.</summary>
    internal int PendingHandshakeCount
    {
        get
        {
            int count = 0;
            foreach (var listener in _listeners) count += Volatile.Read(ref listener.PendingHandshakes);
            return count;
        }
    }

    /// <summary>
    /// The throwaway PostgreSQL cluster, when the emulator started one. It is reachable only from this process's
    /// system user, and its connection string holds the superuser's password: do not print it.
    /// </summary>
    public PostgresCluster? Cluster => _cluster;

    internal DsqlEmulatorOptions Options { get; }
    internal ILogger Logger { get; }
    internal DsqlTokenValidator TokenValidator { get; }
    internal SslServerAuthenticationOptions TlsOptions { get; }
    /// <summary>The backend as client sessions reach it: no password, and the key of this emulator's caps.</summary>
    internal BackendTarget Backend { get; private set; }

    /// <summary>The backend as the emulator's own installation and jobs reach it: its superuser.</summary>
    internal BackendTarget AdminBackend { get; private set; } = null!;

    private string? _sessionKey;
    /// <summary>Runs CREATE INDEX ASYNC and ALTER TABLE ASYNC jobs; null until the backend is ready.</summary>
    internal JobRunner? Jobs { get; private set; }

    internal string ServerCertificatePem => _certificates.ServerPem;
    internal string ServerKeyPem => _certificates.ServerKeyPem;

    /// <summary>
    /// Starts the emulator: generates its certificates, starts a throwaway PostgreSQL cluster (or attaches to
    /// <see cref="DsqlEmulatorOptions.BackendConnectionString"/>), installs its helpers and opens the endpoints.
    /// </summary>
    public static async Task<DsqlEmulator> StartAsync(DsqlEmulatorOptions? options = null, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        options ??= new DsqlEmulatorOptions();
        options.Validate();
        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Dsql.Emulator");
        var endpoints = options.Endpoints.Count > 0 ? options.Endpoints.ToList() : [new EmulatorEndpoint(EmulatorEndpoint.DefaultHost)];
        var backendTarget = options.BackendConnectionString is null ? null : BackendTarget.Parse(options.BackendConnectionString);

        string workDirectory = Path.Combine(Path.GetTempPath(), "dsql-emulator", "emulator-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(6)).ToLowerInvariant());
        Directory.CreateDirectory(workDirectory);
        // Lets the next start remove this directory if this process dies without disposing the emulator.
        await PostgresCluster.WriteOwnerAsync(workDirectory, cancellationToken).ConfigureAwait(false);
        var certificates = EmulatorCertificates.Create(endpoints.Select(e => e.Host), options.TimeProvider.GetUtcNow());
        var emulator = new DsqlEmulator(options, logger, certificates, workDirectory);
        try
        {
            await File.WriteAllTextAsync(emulator.CaCertificatePath, certificates.AuthorityPem, cancellationToken).ConfigureAwait(false);
            if (options.CaCertificateOutputPath is { } caOut)
            {
                string? directory = Path.GetDirectoryName(Path.GetFullPath(caOut));
                if (directory is not null) Directory.CreateDirectory(directory);
                await File.WriteAllTextAsync(caOut, certificates.AuthorityPem, cancellationToken).ConfigureAwait(false);
            }

            if (backendTarget is null)
            {
                emulator._cluster = await PostgresCluster.StartAsync(new PostgresClusterOptions
                {
                    BinDirectory = options.PgBin,
                    MaxConnections = options.BackendMaxConnections,
                }, logger, cancellationToken).ConfigureAwait(false);
                backendTarget = BackendTarget.Parse(emulator._cluster.ConnectionString);
            }
            emulator.AdminBackend = backendTarget;
            var (sessionKey, control) = await BackendSchema.InstallAsync(backendTarget, options.MaxRowsPerTransaction, options.MaxBytesPerTransaction, cancellationToken).ConfigureAwait(false);
            emulator._sessionKey = sessionKey;
            emulator.Backend = backendTarget.ForSessions([new(BackendSchema.SessionSetting, sessionKey)]);
            emulator.Jobs = await JobRunner.StartAsync(backendTarget, control, emulator.Backend, options.MinimumJobDuration, JobPollInterval, logger, cancellationToken).ConfigureAwait(false);
            emulator._sessionServices = new SessionServices(options, logger, emulator.Clock, emulator.Faults, emulator.TlsOptions, emulator.TokenValidator, emulator.Backend, emulator, emulator.ConflictStats, new SchemaChangeCheck(), emulator.Jobs);

            foreach (var endpoint in endpoints)
            {
                var listener = new EndpointListener(emulator, endpoint.Host, endpoint.ResolveRegion(), endpoint.Port);
                emulator._listeners.Add(listener);
                emulator._endpoints.Add(new EmulatorEndpointInfo(listener.Host, listener.Region, listener.Port, emulator.CaCertificatePath, listener.Addresses));
            }
            foreach (var listener in emulator._listeners)
            {
                listener.Start(emulator._stopping.Token);
                Log.EndpointReady(logger, listener.Host, listener.Region, listener.Port);
            }
            emulator._supervisor = options.TimeProvider.CreateTimer(static state => ((DsqlEmulator)state!).Supervise(), emulator, options.SupervisionInterval, options.SupervisionInterval);
            return emulator;
        }
        catch
        {
            await emulator.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    EndpointListener? ISessionRegistry.FindEndpoint(string host) => FindEndpoint(host);

    internal EndpointListener? FindEndpoint(string host)
    {
        foreach (var listener in _listeners)
            if (string.Equals(listener.Host, host, StringComparison.OrdinalIgnoreCase)) return listener;
        return null;
    }

    internal void StartSession(EndpointListener listener, Socket socket)
    {
        var session = new ClientSession(_sessionServices!, listener, socket, Interlocked.Increment(ref _nextSessionId));
        _sessions[session.Id] = session;
        _ = RunSessionAsync(session);
    }

    private async Task RunSessionAsync(ClientSession session)
    {
        await Task.Yield();
        try
        {
            await session.RunAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // RunAsync handles the expected failures; anything else is a bug worth a loud log, not a dead emulator.
            Log.SessionFailed(Logger, ex, session.Id);
            session.Close();
            Unregister(session);
        }
    }

    /// <inheritdoc />
    (int ProcessId, int SecretKey) ISessionRegistry.RegisterCancelKey(ClientSession session)
    {
        while (true)
        {
            int processId = RandomNumberGenerator.GetInt32(1, int.MaxValue);
            int secretKey = RandomNumberGenerator.GetInt32(int.MinValue, int.MaxValue);
            if (_cancelKeys.TryAdd(CancelKey(processId, secretKey), session)) return (processId, secretKey);
        }
    }

    void ISessionRegistry.Unregister(ClientSession session) => Unregister(session);

    private void Unregister(ClientSession session)
    {
        _sessions.TryRemove(session.Id, out _);
        if (session.FrontendProcessId != 0) _cancelKeys.TryRemove(CancelKey(session.FrontendProcessId, session.FrontendSecretKey), out _);
        if (Volatile.Read(ref _disposed) != 0 && _sessions.IsEmpty) _sessionsEnded.TrySetResult();
    }

    /// <inheritdoc />
    Task ISessionRegistry.ForwardCancelAsync(int processId, int secretKey)
        => _cancelKeys.TryGetValue(CancelKey(processId, secretKey), out var session) ? session.CancelBackendAsync() : Task.CompletedTask;

    private static long CancelKey(int processId, int secretKey) => ((long)processId << 32) | (uint)secretKey;

    internal int CloseSessions(int count)
    {
        var open = _sessions.Values.Where(s => s.IsProxying).OrderBy(s => s.Id).Take(count).ToList();
        foreach (var session in open) _ = session.CloseWithErrorAsync(PgConstants.AdminShutdown, DsqlMessages.AdministratorCommand);
        return open.Count;
    }

    /// <summary>The open sessions (past authentication) of one endpoint.</summary>
    internal List<ClientSession> SessionsOf(EndpointListener listener)
        => _sessions.Values.Where(s => s.IsProxying && ReferenceEquals(s.Endpoint, listener)).ToList();

    private void Supervise()
    {
        var now = Clock.GetUtcNow();
        foreach (var session in _sessions.Values) session.Supervise(now);
    }

    /// <summary>Removes this emulator's caps from a server it attached to (the server outlives the emulator).</summary>
    private async Task ForgetLimitsAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            if (Jobs is not null) await Jobs.QueryAsync(BackendSchema.UnregisterSql(_sessionKey!), timeout.Token).ConfigureAwait(false);
            else await BackendSchema.UnregisterAsync(AdminBackend, _sessionKey!, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or BackendErrorException or BackendLoginException or InvalidOperationException)
        {
            Logger.LogDebug(ex, "Could not remove the emulator's limits from its backend");
        }
    }

    /// <summary>Closes every session, stops the endpoints and, if the emulator started one, the PostgreSQL cluster.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping.Cancel();
        _supervisor?.Dispose();
        foreach (var listener in _listeners) await listener.StopAsync().ConfigureAwait(false);
        foreach (var session in _sessions.Values) session.Close();
        // Give sessions a moment to unwind so their backend sessions end before the server stops.
        if (!_sessions.IsEmpty)
        {
            try
            {
                await _sessionsEnded.Task.WaitAsync(SessionUnwindLimit).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Sessions still unwinding end with the backend (or on their own, on a server that outlives us).
            }
        }
        // A server that outlives the emulator forgets its caps, through the job runner's connection while it is open.
        if (_cluster is null && _sessionKey is not null) await ForgetLimitsAsync().ConfigureAwait(false);
        if (Jobs is not null) await Jobs.DisposeAsync().ConfigureAwait(false);
        if (_cluster is not null) await _cluster.DisposeAsync().ConfigureAwait(false);
        _certificates.Dispose();
        try { Directory.Delete(_workDirectory, recursive: true); } catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
        _stopping.Dispose();
    }
}
