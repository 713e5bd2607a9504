using System.Net.Security;
using System.Reflection;
using System.Security.Authentication;
using Npgsql;

namespace Dsql.Connector;

/// <summary>
/// How a <see cref="DsqlDataSource"/> configures its inner Npgsql data source: the connection string Npgsql gets
/// from the frozen settings, and the invariants applied again after the user's own Npgsql configuration.
/// </summary>
internal static class NpgsqlPolicy
{
    internal static string DefaultApplicationName { get; } =
        "Dsql.Connector/" + (typeof(NpgsqlPolicy).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0");

    public static string ConnectionString(DsqlSettings settings)
    {
        var builder = new NpgsqlConnectionStringBuilder();
        foreach (var (key, value) in settings.NpgsqlOptions) builder[key] = value;
        builder.Host = settings.HostAddress ?? settings.Endpoint;
        builder.Port = settings.Port;
        builder.Database = settings.Database;
        builder.Username = settings.Username;
        builder.Pooling = settings.Pooling;
        builder.MaxPoolSize = settings.MaxPoolSize;
        builder.MinPoolSize = settings.MinPoolSize;
        builder.ConnectionIdleLifetime = (int)Math.Ceiling(settings.ConnectionIdleLifetime.TotalSeconds);
        builder.ConnectionLifetime = (int)settings.ConnectionLifetime.TotalSeconds;
        // Npgsql bounds each attempt by Timeout too (the synchronous open relies on it); the connector bounds the whole open.
        builder.Timeout = settings.Timeout;
        builder.CommandTimeout = settings.CommandTimeout;
        builder.ApplicationName = settings.ApplicationName ?? DefaultApplicationName;
        if (settings.RootCertificate is { } root) builder.RootCertificate = root;
        return builder.ConnectionString;
    }

    /// <summary>
    /// The connector's invariants, applied after the user's callbacks. <paramref name="beforeTls"/> runs right before
    /// each TLS handshake (on physical connects only).
    /// </summary>
    public static void ApplyInvariants(NpgsqlDataSourceBuilder npgsql, DsqlSettings settings, Action beforeTls)
    {
        var builder = npgsql.ConnectionStringBuilder;
        builder.Host = settings.HostAddress ?? settings.Endpoint;
        builder.Port = settings.Port;
        builder.Database = settings.Database;
        builder.Password = null;
        builder.Passfile = null;
        builder.SslMode = settings.AllowInsecureTls && settings.SslMode != SslMode.VerifyFull ? settings.SslMode : SslMode.VerifyFull;
        // Direct TLS saves a round trip; Npgsql allows it only when TLS is required.
        builder.SslNegotiation = builder.SslMode >= SslMode.Require ? SslNegotiation.Direct : SslNegotiation.Postgres;
        // DSQL has no DISCARD, and its transactions cannot take part in distributed (two-phase) transactions.
        builder.NoResetOnClose = true;
        builder.Enlist = false;
        // A refused startup must not be tried a second time behind the caller's back (it costs a connect).
        builder.GssEncryptionMode = GssEncryptionMode.Disable;
        builder.ConnectionLifetime = (int)settings.ConnectionLifetime.TotalSeconds;
        builder.Timeout = settings.Timeout;
        string endpoint = settings.Endpoint;
        bool tunnelled = settings.HostAddress is not null;
        npgsql.UseSslClientAuthenticationOptionsCallback(options =>
        {
            options.EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
            // Through a tunnel or to a local address, the certificate must still name the DSQL endpoint (and SNI carries it).
            if (tunnelled) options.TargetHost = endpoint;
            beforeTls();
        });
    }
}
