using System.Globalization;

namespace Dsql.Emulator.Tool.Cli;

/// <summary>
/// One <c>--fault &lt;host&gt;=&lt;mode&gt;</c>: an endpoint that starts unavailable (<see cref="EndpointOutage"/>) or
/// failing a fraction of its connects and statements (<see cref="EndpointFaults.FailFraction"/>).
/// </summary>
/// <param name="Host">The endpoint's host name, as given to <c>--endpoint</c>.</param>
/// <param name="Outage">The outage; <see cref="EndpointOutage.None"/> with a <paramref name="Fraction"/>.</param>
/// <param name="Fraction">The fraction of connects and statements failed, for <c>fail-fraction</c>.</param>
/// <param name="Seed">The seed of the fraction's draws.</param>
internal sealed record EndpointFaultSpec(string Host, EndpointOutage Outage, double Fraction = 0, int Seed = 0)
{
    /// <summary>The modes <c>--fault</c> accepts, with what each does (for help and errors).</summary>
    public static readonly IReadOnlyList<(string Name, EndpointOutage Outage)> Modes =
    [
        ("unavailable", EndpointOutage.RefuseConnects),
        ("refuse-connects", EndpointOutage.RefuseConnects),
        ("reset-connects", EndpointOutage.ResetConnects),
        ("cut-sessions", EndpointOutage.CutSessions),
        ("drop-sessions", EndpointOutage.DropSessions),
        ("server-unavailable", EndpointOutage.ServerUnavailable),
        ("stall-connects", EndpointOutage.StallConnects),
    ];

    /// <summary>The mode of a fraction: <c>fail-fraction:&lt;0..1&gt;[:&lt;seed&gt;]</c>.</summary>
    public const string FractionMode = "fail-fraction";

    /// <summary>Parses <c>host=mode</c>; a problem names the value at fault.</summary>
    public static EndpointFaultSpec? Parse(string value, List<string> problems)
    {
        int equals = value.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0 || equals == value.Length - 1)
        {
            problems.Add($"--fault '{value}' is not <host>=<mode>.");
            return null;
        }
        string host = value[..equals].Trim();
        string mode = value[(equals + 1)..].Trim().ToLowerInvariant();
        foreach (var (name, outage) in Modes)
            if (mode == name) return new EndpointFaultSpec(host, outage);

        string[] parts = mode.Split(':');
        if (parts[0] == FractionMode && parts.Length is 2 or 3)
        {
            bool fractionOk = double.TryParse(parts[1], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double fraction) && fraction is >= 0 and <= 1;
            int seed = 0;
            bool seedOk = parts.Length == 2 || int.TryParse(parts[2], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out seed);
            if (fractionOk && seedOk) return new EndpointFaultSpec(host, EndpointOutage.None, fraction, seed);
            problems.Add(fractionOk
                ? $"--fault '{value}': the seed '{parts[2]}' is not a whole number."
                : $"--fault '{value}': the fraction '{parts[1]}' is not a number from 0 to 1.");
            return null;
        }
        problems.Add($"--fault '{value}': unknown mode '{mode}'; use one of {string.Join(", ", Modes.Select(m => m.Name))} or {FractionMode}:<0..1>[:<seed>].");
        return null;
    }

    /// <summary>Applies the fault to a running emulator.</summary>
    public void Apply(DsqlEmulator emulator)
    {
        var faults = emulator.Faults.ForEndpoint(Host);
        if (Outage != EndpointOutage.None) faults.Unavailable(Outage);
        else faults.FailFraction(Fraction, Seed);
    }

    /// <summary>How the ready banner describes the fault.</summary>
    public string Describe() => Outage != EndpointOutage.None
        ? Outage.ToString()
        : string.Create(CultureInfo.InvariantCulture, $"FailFraction {Fraction} seed {Seed}");
}
