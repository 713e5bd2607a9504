using Npgsql;

namespace Dsql.Connector;

/// <summary>
/// The TLS handshake with a DSQL endpoint failed: most often the server's certificate was not accepted. The message
/// names the host name that was checked, the trust source used (the system certificate store, or the
/// <c>Root Certificate</c> file) and the settings to change; Npgsql's exception is the inner exception.
/// </summary>
public sealed class DsqlTlsException : NpgsqlException
{
    internal DsqlTlsException(string hostChecked, string? hostAddress, int port, string region, string? rootCertificate, NpgsqlException inner)
        : base(BuildMessage(hostChecked, hostAddress, port, region, rootCertificate, inner), inner)
    {
        HostChecked = hostChecked;
        RootCertificate = rootCertificate;
    }

    /// <summary>The host name the server's certificate had to carry (the DSQL endpoint; also sent as SNI).</summary>
    public string HostChecked { get; }

    /// <summary>The CA file the certificate had to chain to, or null when the system certificate store was used.</summary>
    public string? RootCertificate { get; }

    /// <summary>The trust source, in words.</summary>
    public string TrustSource => RootCertificate is null ? "the system certificate store" : $"the Root Certificate file '{RootCertificate}'";

    /// <summary>Whether a failed open is a TLS failure this exception explains (an authentication exception of the handshake in its chain).</summary>
    internal static bool IsTlsFailure(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
            if (current is System.Security.Authentication.AuthenticationException) return true;
        return false;
    }

    private static string BuildMessage(string host, string? hostAddress, int port, string region, string? rootCertificate, NpgsqlException inner)
    {
        string detail = inner.GetBaseException().Message;
        bool certificate = detail.Contains("certificate", StringComparison.OrdinalIgnoreCase);
        string target = hostAddress is null ? $"{host}:{port}" : $"{hostAddress}:{port} (Host Address) for {host}";
        string trust = rootCertificate is null
            ? "the system certificate store (no Root Certificate is set)"
            : $"only the certificate authority in the Root Certificate file '{rootCertificate}'";
        if (!certificate)
            return $"The TLS handshake with {target} failed ({detail}). DSQL requires TLS 1.2 or later with verify-full; " +
                   $"the certificate must name '{host}' and chain to {trust}.";
        string fixTrust = rootCertificate is null
            ? "A DSQL endpoint's certificate chains to Amazon Root CA 1, which system stores hold; for the DSQL emulator or a proxy with its own CA, set Root Certificate to that CA's PEM file."
            : "Check that this file is the CA of the server you reach (each emulator has its own CA; remove Root Certificate for a real DSQL endpoint).";
        string fixHost = hostAddress is null
            ? $"If you connect through a tunnel, a proxy or an IP address, keep Host the DSQL endpoint name and put the address in Host Address (Host={host};Host Address=127.0.0.1)."
            : $"Host must be the DSQL endpoint name the server's certificate carries; Host Address ({hostAddress}) only says where to connect.";
        return $"The server's TLS certificate was not accepted for '{host}' at {target}: the name checked was '{host}' (verify-full; sent as SNI) " +
               $"and the trust source was {trust} ({detail}). {fixTrust} {fixHost} " +
               $"A DSQL endpoint is <cluster id>.dsql.<region>.on.aws: check that its Region ({region}) is the cluster's and the name is spelled as the console shows it.";
    }
}
