using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Dsql.Connector;

/// <summary>The checks of a token request's host, Region, user and lifetime, before anything is signed.</summary>
public sealed partial class DsqlTokenGenerator
{
    private readonly record struct TokenRequest(string Host, string Region, string Action, long RequestedSeconds);

    private static TokenRequest Validate(string host, string region, string user, TimeSpan? expiresIn)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(region);
        ArgumentNullException.ThrowIfNull(user);

        string normalizedHost = ValidateHost(host);

        if (!RegionPattern().IsMatch(region))
        {
            throw new ArgumentException(
                region.Length == 0
                    ? "The region must not be empty; pass the AWS Region of the cluster endpoint, for example 'us-east-1'."
                    : $"The region '{Display(region)}' is not an AWS Region name; pass one like 'us-east-1' (lower case).",
                nameof(region));
        }

        if (string.IsNullOrWhiteSpace(user))
        {
            throw new ArgumentException("The user must not be empty; pass the PostgreSQL role to connect as, for example 'admin'.", nameof(user));
        }

        TimeSpan lifetime = expiresIn ?? DefaultExpiry;
        if (lifetime < MinimumExpiry || lifetime > MaximumExpiry)
        {
            throw new ArgumentOutOfRangeException(
                nameof(expiresIn),
                lifetime,
                $"expiresIn must be between {MinimumExpiry.TotalSeconds:0} second and {MaximumExpiry.TotalSeconds:0} seconds (7 days); "
                + $"got {lifetime.TotalSeconds.ToString(CultureInfo.InvariantCulture)} seconds.");
        }

        string action = string.Equals(user, AdminUser, StringComparison.Ordinal) ? "DbConnectAdmin" : "DbConnect";
        return new TokenRequest(normalizedHost, region, action, (long)lifetime.TotalSeconds);
    }

    private static string ValidateHost(string host)
    {
        if (host.Length == 0 || string.IsNullOrWhiteSpace(host))
        {
            throw new ArgumentException(
                "The host must not be empty; pass the cluster endpoint, for example '<cluster-id>.dsql.us-east-1.on.aws'.",
                nameof(host));
        }

        if (host.Contains("://", StringComparison.Ordinal))
        {
            throw new ArgumentException(
                $"The host '{Display(host)}' must not include a scheme; pass only the host name, for example '<cluster-id>.dsql.us-east-1.on.aws'.",
                nameof(host));
        }

        if (host.IndexOfAny(['/', '?', '#']) >= 0)
        {
            throw new ArgumentException(
                $"The host '{Display(host)}' must not include a path or query; pass only the host name.",
                nameof(host));
        }

        if (host.Contains(':', StringComparison.Ordinal))
        {
            throw new ArgumentException(
                $"The host '{Display(host)}' must not include a port; the token is signed for the host name alone.",
                nameof(host));
        }

        if (host.Length > MaxHostLength || !HostPattern().IsMatch(host))
        {
            throw new ArgumentException(
                $"The host '{Display(host)}' is not a valid host name (letters, digits, '-' and '.' separated labels).",
                nameof(host));
        }

        return host.ToLowerInvariant();
    }

    private static string Display(string value)
    {
        const int Max = 120;
        var builder = new StringBuilder(Math.Min(value.Length, Max) + 3);
        foreach (char c in value.Length > Max ? value.AsSpan(0, Max) : value.AsSpan())
        {
            builder.Append(char.IsControl(c) ? '?' : c);
        }

        if (value.Length > Max)
        {
            builder.Append("...");
        }

        return builder.ToString();
    }

    [GeneratedRegex("^[a-z]{2,}(-[a-z0-9]+)+-[0-9]+$", RegexOptions.CultureInvariant)]
    private static partial Regex RegionPattern();

    [GeneratedRegex("^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(\\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$", RegexOptions.CultureInvariant)]
    private static partial Regex HostPattern();
}
