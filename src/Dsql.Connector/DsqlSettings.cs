using System.Collections.Frozen;
using Npgsql;

namespace Dsql.Connector;

/// <summary>
/// The settings of one built <see cref="DsqlDataSource"/>, copied out of the builder's
/// <see cref="DsqlConnectionStringBuilder"/> by <see cref="DsqlDataSourceBuilder.Build"/>. Immutable: what a caller
/// does to the builder or its settings afterwards changes nothing built (Npgsql's builders work the same way).
/// </summary>
internal sealed record DsqlSettings
{
    /// <summary>The settings as the data source reports them (<see cref="DsqlDataSource.ConnectionString"/>): their canonical form at Build.</summary>
    public required string ConnectionString { get; init; }

    /// <summary>The DSQL endpoint name tokens are signed for and the certificate must carry.</summary>
    public required string Endpoint { get; init; }

    /// <summary>The Region tokens are signed for.</summary>
    public required string Region { get; init; }

    /// <summary>Where the socket connects when it is not the endpoint itself (a tunnel, a proxy, an IP address).</summary>
    public string? HostAddress { get; init; }

    public required int Port { get; init; }

    public required string Database { get; init; }

    public required string Username { get; init; }

    public string? Profile { get; init; }

    public required TimeSpan TokenLifetime { get; init; }

    public string? RootCertificate { get; init; }

    public required SslMode SslMode { get; init; }

    public required bool AllowInsecureTls { get; init; }

    public required bool Pooling { get; init; }

    public required int MaxPoolSize { get; init; }

    public required int MinPoolSize { get; init; }

    public required TimeSpan ConnectionIdleLifetime { get; init; }

    /// <summary>The pool lifetime in force: the setting, or the default picked at random below DSQL's cut at Build.</summary>
    public required TimeSpan ConnectionLifetime { get; init; }

    /// <summary>Seconds one open may take, pacing and retries included.</summary>
    public required int Timeout { get; init; }

    public required int CommandTimeout { get; init; }

    public string? ApplicationName { get; init; }

    public required double ConnectionRatePerSecond { get; init; }

    public required int ConnectionBurst { get; init; }

    public required int ConnectRetries { get; init; }

    /// <summary>Npgsql settings passed through as they are.</summary>
    public required FrozenDictionary<string, string> NpgsqlOptions { get; init; }

    /// <summary>The budget of one open (<see cref="Timeout"/>).</summary>
    public TimeSpan OpenBudget => TimeSpan.FromSeconds(Timeout);

    /// <summary>
    /// Copies <paramref name="source"/>, which must be validated, with the Region and pool lifetime Build resolved.
    /// Reads only the builder's public properties.
    /// </summary>
    public static DsqlSettings Freeze(DsqlConnectionStringBuilder source, string region, TimeSpan connectionLifetime) => new()
    {
        ConnectionString = source.ToString() ?? "",
        Endpoint = source.Endpoint,
        Region = region,
        HostAddress = source.HostAddress,
        Port = source.Port,
        Database = source.Database,
        Username = source.Username,
        Profile = source.Profile,
        TokenLifetime = source.TokenLifetime,
        RootCertificate = source.RootCertificate,
        SslMode = source.SslMode,
        AllowInsecureTls = source.AllowInsecureTls,
        Pooling = source.Pooling,
        MaxPoolSize = source.MaxPoolSize,
        MinPoolSize = source.MinPoolSize,
        ConnectionIdleLifetime = source.ConnectionIdleLifetime,
        ConnectionLifetime = connectionLifetime,
        Timeout = source.Timeout,
        CommandTimeout = source.CommandTimeout,
        ApplicationName = source.ApplicationName,
        ConnectionRatePerSecond = source.ConnectionRatePerSecond,
        ConnectionBurst = source.ConnectionBurst,
        ConnectRetries = source.ConnectRetries,
        NpgsqlOptions = source.NpgsqlOptions.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase),
    };
}
