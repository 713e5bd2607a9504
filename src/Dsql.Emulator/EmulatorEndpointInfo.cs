using System.Globalization;

namespace Dsql.Emulator;

/// <summary>A running endpoint: the DSQL host name tokens are signed for, its Region, and where it listens.</summary>
public sealed class EmulatorEndpointInfo
{
    internal EmulatorEndpointInfo(string host, string region, int port, string caCertificatePath, IReadOnlyList<string> listenAddresses)
    {
        Host = host;
        Region = region;
        Port = port;
        CaCertificatePath = caCertificatePath;
        ListenAddresses = listenAddresses;
    }

    /// <summary>The DSQL endpoint name: sign tokens for this host.</summary>
    public string Host { get; }

    /// <summary>The Region: sign tokens for this Region.</summary>
    public string Region { get; }

    /// <summary>The loopback address to connect to (IPv4; see <see cref="ListenAddresses"/>).</summary>
    public string ListenAddress => "127.0.0.1";

    /// <summary>
    /// Every address the endpoint listens on, all on <see cref="Port"/>: 127.0.0.1, and ::1 when the machine has
    /// IPv6 loopback (the server certificate names both).
    /// </summary>
    public IReadOnlyList<string> ListenAddresses { get; }

    /// <summary>The port to connect to.</summary>
    public int Port { get; }

    /// <summary>PEM file of the CA that signed the emulator's server certificate.</summary>
    public string CaCertificatePath { get; }

    /// <summary>
    /// An Npgsql connection string for this endpoint with verify-full TLS against the emulator's CA and direct
    /// TLS negotiation. The password is the token: pass one signed for <see cref="Host"/> and <see cref="Region"/>.
    /// </summary>
    /// <param name="user">The role to connect as (<c>admin</c>, or a role created with <c>CREATE ROLE ... WITH LOGIN</c>).</param>
    /// <param name="token">A DSQL authentication token signed for this endpoint (<c>DbConnectAdmin</c> for <c>admin</c>).</param>
    /// <returns>A connection string for <c>NpgsqlConnection</c>; it holds the token, so do not log it.</returns>
    public string NpgsqlConnectionString(string user, string token) =>
        string.Create(CultureInfo.InvariantCulture,
            $"Host={ListenAddress};Port={Port};Database=postgres;Username={ConnectionStringValue(user)};Password={ConnectionStringValue(token)};SSL Mode=VerifyFull;SSL Negotiation=Direct;Root Certificate={ConnectionStringValue(CaCertificatePath)};Pooling=false;No Reset On Close=true;Enlist=false");

    /// <summary>
    /// A Dsql.Connector connection string for this endpoint, ready for <c>DsqlDataSource.Create</c> or
    /// <c>new DsqlDataSourceBuilder(...)</c>: <c>Host</c> is the endpoint name (tokens are signed for it and TLS
    /// verifies it), <c>Host Address</c> the loopback address the emulator listens on, <c>Port</c> its port,
    /// <c>Region</c> its Region and <c>Root Certificate</c> the emulator's CA, so verify-full TLS holds.
    /// </summary>
    /// <remarks>
    /// The string holds no secret. The connector signs tokens with the credentials it is given: the AWS default
    /// chain (for example <c>AWS_ACCESS_KEY_ID</c> and <c>AWS_SECRET_ACCESS_KEY</c> set to
    /// <see cref="DsqlEmulatorOptions.ExampleAccessKeyId"/> and <see cref="DsqlEmulatorOptions.ExampleSecretAccessKey"/>
    /// when the emulator accepts its default key), a <c>Profile</c>, or <c>DsqlDataSourceBuilder.UseCredentials</c>.
    /// </remarks>
    /// <param name="user">
    /// The role to connect as; <see langword="null"/> leaves <c>Username</c> out, so the connector's default
    /// (<c>admin</c>) applies.
    /// </param>
    /// <returns>A connection string such as
    /// <c>Host=emulatorcluster00000000001.dsql.us-east-1.on.aws;Host Address=127.0.0.1;Port=41234;Region=us-east-1;Root Certificate=/tmp/.../dsql-emulator-ca.pem</c>.</returns>
    public string ConnectorConnectionString(string? user = null) =>
        string.Create(CultureInfo.InvariantCulture,
            $"Host={Host};Host Address={ListenAddress};Port={Port};Region={Region};Root Certificate={ConnectionStringValue(CaCertificatePath)}")
        + (user is null ? "" : ";Username=" + ConnectionStringValue(user));

    /// <summary>
    /// A libpq connection string (keyword=value form) for <c>psql</c> and other libpq clients: <c>host</c> is the
    /// endpoint name, <c>hostaddr</c> the loopback address, <c>sslmode=verify-full</c> against the emulator's CA.
    /// libpq sends the password from <c>PGPASSWORD</c> (or a password prompt): set it to a token signed for
    /// <see cref="Host"/> and <see cref="Region"/>. libpq 17 and later may add <c>sslnegotiation=direct</c>, as DSQL
    /// accepts; older libpq rejects that keyword, so it is left out.
    /// </summary>
    /// <param name="user">The role to connect as.</param>
    /// <returns>A string such as <c>host=... hostaddr=127.0.0.1 port=41234 user=admin dbname=postgres sslmode=verify-full sslrootcert=...</c>.</returns>
    public string LibpqConnectionString(string user = "admin") =>
        string.Create(CultureInfo.InvariantCulture,
            $"host={Host} hostaddr={ListenAddress} port={Port} user={LibpqValue(user)} dbname=postgres sslmode=verify-full sslrootcert={LibpqValue(CaCertificatePath)}");

    /// <summary>Quotes a connection-string value when it holds a separator, a quote or surrounding spaces (a doubled quote stands for itself).</summary>
    private static string ConnectionStringValue(string value) =>
        value.Length > 0 && value.IndexOfAny([';', '\'', '"']) < 0 && value.Trim().Length == value.Length
            ? value
            : "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>Quotes a libpq value when it is empty or holds spaces, quotes or backslashes.</summary>
    private static string LibpqValue(string value) =>
        value.Length > 0 && value.IndexOfAny([' ', '\t', '\'', '\\']) < 0
            ? value
            : "'" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";

    /// <inheritdoc />
    public override string ToString() => $"{Host} ({Region}) at {ListenAddress}:{Port}";
}
