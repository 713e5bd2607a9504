using System.Net.Security;
using Dsql.Emulator.Auth;
using Dsql.Emulator.Backend;
using Dsql.Emulator.Rules;
using Microsoft.Extensions.Logging;

namespace Dsql.Emulator.Front;

/// <summary>What a session needs from the emulator that runs it: endpoint lookup, cancel keys and its own registration.</summary>
internal interface ISessionRegistry
{
    /// <summary>The endpoint serving a host name (the TLS SNI), or null.</summary>
    EndpointListener? FindEndpoint(string host);

    /// <summary>Assigns the session a unique process id and secret key for cancel requests.</summary>
    (int ProcessId, int SecretKey) RegisterCancelKey(ClientSession session);

    /// <summary>Forgets a session that has ended.</summary>
    void Unregister(ClientSession session);

    /// <summary>Forwards a client's cancel request to the session it names (if any).</summary>
    Task ForwardCancelAsync(int processId, int secretKey);
}

/// <summary>The collaborators a session uses, fixed when the emulator has started.</summary>
internal sealed record SessionServices(
    DsqlEmulatorOptions Options,
    ILogger Logger,
    EmulatorClock Clock,
    EmulatorFaults Faults,
    SslServerAuthenticationOptions TlsOptions,
    DsqlTokenValidator TokenValidator,
    BackendTarget Backend,
    ISessionRegistry Registry,
    ConflictStatistics Conflicts,
    SchemaChangeCheck Schema,
    JobRunner? Jobs = null);
