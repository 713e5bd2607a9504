using Amazon.Runtime.CredentialManagement;

namespace Dsql.Connector;

/// <summary>
/// Determines the AWS Region tokens are signed for, and with it the endpoint of a bare cluster id. The parts that
/// need no I/O (an explicit Region, the Region in the endpoint name) are checked when settings are validated; the
/// environment and the AWS config files are read only here, when a data source is built
/// (<see cref="DsqlDataSourceBuilder.Build"/>) or when <see cref="DsqlConnectionStringBuilder.ResolveRegion()"/> is
/// called: never by a property getter.
/// </summary>
/// <remarks>
/// Order: <c>Region</c> when set (it must agree with the endpoint's); else the Region in the endpoint name; else the
/// <c>AWS_REGION</c> then <c>AWS_DEFAULT_REGION</c> environment variables; else the region of the AWS profile
/// (<c>Profile</c>, else <c>AWS_PROFILE</c>, else <c>default</c>).
/// </remarks>
internal static class DsqlRegionResolver
{
    private static readonly string[] RegionVariables = ["AWS_REGION", "AWS_DEFAULT_REGION"];

    /// <summary>The endpoint and the Region a data source built from <paramref name="settings"/> uses.</summary>
    /// <exception cref="DsqlConfigurationException">(Setting <c>Host</c> or <c>Region</c>) They cannot be determined.</exception>
    public static (string Endpoint, string Region) ResolveEndpoint(DsqlConnectionStringBuilder settings)
    {
        var region = Resolve(settings.Host, settings.Region, settings.Profile, ReadProfileRegion, Environment.GetEnvironmentVariable);
        return (settings.EndpointIn(region), region);
    }

    /// <summary>
    /// The Region known without I/O: <paramref name="region"/> when set, else the endpoint's; null when only the
    /// environment or a profile can tell.
    /// </summary>
    /// <exception cref="DsqlConfigurationException">(Setting <c>Region</c>) Region is malformed or contradicts the endpoint.</exception>
    public static string? Known(string? host, string? region)
    {
        var trimmedHost = host?.Trim();
        var hostRegion = string.IsNullOrEmpty(trimmedHost) ? null : DsqlEndpointName.RegionOf(trimmedHost);
        if (region is null)
        {
            return hostRegion;
        }

        var explicitRegion = region.Trim();
        if (!DsqlEndpointName.IsRegion(explicitRegion))
        {
            throw new DsqlConfigurationException(nameof(DsqlConnectionStringBuilder.Region),
                $"Region '{region}' is not an AWS Region name such as us-east-1.");
        }

        explicitRegion = explicitRegion.ToLowerInvariant();
        if (hostRegion is not null && hostRegion != explicitRegion)
        {
            throw new DsqlConfigurationException(nameof(DsqlConnectionStringBuilder.Region),
                $"Region '{region}' contradicts the Region '{hostRegion}' in Host '{trimmedHost}': tokens must be signed for " +
                "the endpoint's own Region. Remove Region or correct it.");
        }

        return explicitRegion;
    }

    /// <summary>The Region, looking at the environment and the profile when the settings do not say.</summary>
    /// <param name="host">The Host setting.</param>
    /// <param name="region">The Region setting.</param>
    /// <param name="profile">The Profile setting.</param>
    /// <param name="profileRegionReader">Reads the region of a named AWS profile (null when it has none).</param>
    /// <param name="environment">Reads an environment variable.</param>
    /// <returns>The Region name, lower-cased.</returns>
    /// <exception cref="DsqlConfigurationException">(Setting <c>Region</c>) No source names a valid Region.</exception>
    public static string Resolve(string? host, string? region, string? profile, Func<string, string?> profileRegionReader,
        Func<string, string?> environment)
    {
        if (Known(host, region) is { } known)
        {
            return known;
        }

        foreach (var variable in RegionVariables)
        {
            var value = environment(variable)?.Trim();
            if (string.IsNullOrEmpty(value))
            {
                continue;
            }

            if (!DsqlEndpointName.IsRegion(value))
            {
                throw new DsqlConfigurationException(nameof(DsqlConnectionStringBuilder.Region),
                    $"The {variable} environment variable '{value}' is not an AWS Region name such as us-east-1. " +
                    "Correct it or set Region in the connection string.");
            }

            return value.ToLowerInvariant();
        }

        var profileName = !string.IsNullOrWhiteSpace(profile) ? profile.Trim()
            : environment("AWS_PROFILE") is { Length: > 0 } envProfile ? envProfile.Trim()
            : "default";
        string? profileRegion;
        var profileFailure = "";
        try
        {
            profileRegion = profileRegionReader(profileName)?.Trim();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            profileRegion = null;
            profileFailure = $" (reading the AWS config failed: {e.Message})";
        }

        if (!string.IsNullOrEmpty(profileRegion))
        {
            if (!DsqlEndpointName.IsRegion(profileRegion))
            {
                throw new DsqlConfigurationException(nameof(DsqlConnectionStringBuilder.Region),
                    $"The region '{profileRegion}' of AWS profile '{profileName}' is not an AWS Region name such as us-east-1. " +
                    "Correct it or set Region in the connection string.");
            }

            return profileRegion.ToLowerInvariant();
        }

        throw new DsqlConfigurationException(nameof(DsqlConnectionStringBuilder.Region),
            $"Region could not be determined for Host '{host?.Trim()}': Region is not set in the connection string " +
            "(e.g. Region=us-east-1), Host is not an endpoint that names its Region (<cluster id>.dsql.<region>.on.aws), " +
            $"the AWS_REGION and AWS_DEFAULT_REGION environment variables are not set, and the AWS profile '{profileName}' " +
            $"has no region{profileFailure}. Set Region, use the full endpoint as Host, or configure one of these.");
    }

    /// <summary>The region of an AWS shared-config profile (reads ~/.aws/config and ~/.aws/credentials).</summary>
    public static string? ReadProfileRegion(string profileName)
    {
        var chain = new CredentialProfileStoreChain();
        return chain.TryGetProfile(profileName, out var profile) ? profile.Region?.SystemName : null;
    }
}
