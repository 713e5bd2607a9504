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
    public string NpgsqlConnectionString(string user, string token) =>
        string.Create(CultureInfo.InvariantCulture,
            $"Host={ListenAddress};Port={Port};Database=postgres;Username={user};Password={token};SSL Mode=VerifyFull;SSL Negotiation=Direct;Root Certificate={CaCertificatePath};Pooling=false;No Reset On Close=true;Enlist=false");

    /// <inheritdoc />
    public override string ToString() => $"{Host} ({Region}) at {ListenAddress}:{Port}";
}
