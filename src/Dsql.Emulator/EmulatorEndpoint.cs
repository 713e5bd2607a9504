using System.Text.RegularExpressions;

namespace Dsql.Emulator;

/// <summary>
/// One endpoint the emulator exposes: the DSQL host name clients sign their tokens for, its Region, and the
/// loopback port it listens on. Several endpoints over one backend form a multi-Region cluster.
/// </summary>
public sealed class EmulatorEndpoint
{
    private static readonly Regex RegionInHost = new(@"\.dsql[^.]*\.([^.]+)\.on\.aws$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase);

    /// <summary>The host name used when no endpoint is configured: a 26-character cluster id in us-east-1.</summary>
    public const string DefaultHost = "emulatorcluster00000000001.dsql.us-east-1.on.aws";

    /// <summary>Creates an endpoint.</summary>
    /// <param name="host">The DSQL endpoint name, e.g. <c>abc...xyz.dsql.us-east-1.on.aws</c>.</param>
    /// <param name="region">The Region; read from <paramref name="host"/> when null.</param>
    /// <param name="port">Loopback port to listen on; 0 picks a free one.</param>
    public EmulatorEndpoint(string host, string? region = null, int port = 0)
    {
        Host = host;
        Region = region;
        Port = port;
    }

    /// <summary>The DSQL endpoint name tokens are signed for.</summary>
    public string Host { get; }

    /// <summary>The Region tokens are signed for; when null it is read from <see cref="Host"/>.</summary>
    public string? Region { get; }

    /// <summary>Loopback port to listen on; 0 picks a free port.</summary>
    public int Port { get; }

    /// <summary>The Region read from a DSQL host name (PrivateLink names included), or null.</summary>
    public static string? RegionFromHost(string host)
    {
        var match = RegionInHost.Match(host);
        return match.Success ? match.Groups[1].Value.ToLowerInvariant() : null;
    }

    internal string ResolveRegion() => Region ?? RegionFromHost(Host)
        ?? throw new ArgumentException($"Cannot tell the Region of endpoint '{Host}': it is not of the form <cluster-id>.dsql.<region>.on.aws; give the Region explicitly (--region).");

    /// <inheritdoc />
    public override string ToString() => $"{Host} ({Region ?? RegionFromHost(Host)}) port {Port}";
}
