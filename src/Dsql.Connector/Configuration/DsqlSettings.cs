using System.Collections.Frozen;
using Npgsql;

namespace Dsql.Connector;

/// <summary>
/// The settings of one built <see cref="DsqlDataSource"/>, copied out of the builder's
/// <see cref="DsqlConnectionStringBuilder"/> by <see cref="DsqlDataSourceBuilder.Build"/>. Immutable: what a caller
/// does to the builder or its settings afterwards changes nothing built (Npgsql's builders work the same way).
/// The members mean what the builder's properties of the same names mean, except where noted.
/// </summary>
/// <param name="ConnectionString">The settings as the data source reports them (<see cref="DsqlDataSource.ConnectionString"/>): their canonical form at Build.</param>
/// <param name="Endpoint">The DSQL endpoint name tokens are signed for and the certificate must carry.</param>
/// <param name="Region">The Region tokens are signed for, as Build resolved it.</param>
/// <param name="HostAddress">Where the socket connects when it is not the endpoint itself (a tunnel, a proxy, an IP address).</param>
/// <param name="Port">The server port.</param>
/// <param name="Database">The database (always <c>postgres</c> on DSQL).</param>
/// <param name="Username">The database role.</param>
/// <param name="Profile">The AWS profile whose credentials sign tokens, if one is named.</param>
/// <param name="TokenLifetime">How long a signed token is valid.</param>
/// <param name="RootCertificate">The CA file to trust instead of the system store.</param>
/// <param name="SslMode">The TLS mode asked for.</param>
/// <param name="AllowInsecureTls">Whether a TLS mode weaker than verify-full is allowed.</param>
/// <param name="Pooling">Whether connections are pooled.</param>
/// <param name="MaxPoolSize">The largest pool.</param>
/// <param name="MinPoolSize">The smallest pool.</param>
/// <param name="ConnectionIdleLifetime">How long an idle pooled connection is kept.</param>
/// <param name="ConnectionLifetime">The pool lifetime in force: the setting, or the default picked at random below DSQL's cut at Build.</param>
/// <param name="Timeout">Seconds one open may take, pacing and retries included.</param>
/// <param name="CommandTimeout">Seconds a command may take.</param>
/// <param name="ApplicationName">The application name, if the user set one.</param>
/// <param name="ConnectionRatePerSecond">The refill rate of the endpoint's connect bucket.</param>
/// <param name="ConnectionBurst">The size of the endpoint's connect bucket.</param>
/// <param name="ConnectRetries">How many times a throttled or transient connect is retried.</param>
/// <param name="NpgsqlOptions">Npgsql settings passed through as they are.</param>
internal sealed record DsqlSettings(
    string ConnectionString, string Endpoint, string Region,
    string? HostAddress, int Port, string Database, string Username,
    string? Profile, TimeSpan TokenLifetime,
    string? RootCertificate, SslMode SslMode, bool AllowInsecureTls,
    bool Pooling, int MaxPoolSize, int MinPoolSize, TimeSpan ConnectionIdleLifetime, TimeSpan ConnectionLifetime,
    int Timeout, int CommandTimeout, string? ApplicationName,
    double ConnectionRatePerSecond, int ConnectionBurst, int ConnectRetries,
    FrozenDictionary<string, string> NpgsqlOptions)
{
    /// <summary>The budget of one open (<see cref="Timeout"/>).</summary>
    public TimeSpan OpenBudget => TimeSpan.FromSeconds(Timeout);

    /// <summary>
    /// Copies <paramref name="source"/>, which must be validated, with the Region and pool lifetime Build resolved.
    /// Reads only the builder's public properties.
    /// </summary>
    public static DsqlSettings Freeze(DsqlConnectionStringBuilder source, string endpoint, string region, TimeSpan connectionLifetime) => new(
        source.ToString() ?? "", endpoint, region,
        source.HostAddress, source.Port, source.Database, source.Username,
        source.Profile, source.TokenLifetime,
        source.RootCertificate, source.SslMode, source.AllowInsecureTls,
        source.Pooling, source.MaxPoolSize, source.MinPoolSize, source.ConnectionIdleLifetime, connectionLifetime,
        source.Timeout, source.CommandTimeout, source.ApplicationName,
        source.ConnectionRatePerSecond, source.ConnectionBurst, source.ConnectRetries,
        source.NpgsqlOptions.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase));
}
