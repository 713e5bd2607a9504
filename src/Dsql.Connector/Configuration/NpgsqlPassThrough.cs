using System.Globalization;
using Npgsql;

namespace Dsql.Connector;

/// <summary>
/// Keywords that are not DSQL settings but that Npgsql knows: checked by Npgsql's own builder, written in Npgsql's
/// canonical form, and kept for the inner data source, except the few that would break DSQL.
/// </summary>
internal static class NpgsqlPassThrough
{
    /// <summary>What a keyword Npgsql knows amounts to.</summary>
    /// <param name="Own">The DSQL keyword it is a synonym of (Npgsql spells it differently), else null.</param>
    /// <param name="Key">Npgsql's canonical keyword, e.g. <c>Include Error Detail</c>.</param>
    /// <param name="Value">The value in Npgsql's canonical form; null for "back to Npgsql's default".</param>
    public readonly record struct Option(DsqlKeyword? Own, string Key, string? Value);

    /// <summary>Whether Npgsql knows the keyword (in any of its spellings).</summary>
    public static bool Knows(string key) => CanonicalKeyOf(key) is not null;

    /// <summary>Npgsql's canonical spelling of a keyword it knows, else null.</summary>
    public static string? CanonicalKeyOf(string key)
    {
        var probe = new NpgsqlConnectionStringBuilder();
        var npgsqlKey = NpgsqlKeyOf(probe, key);
        if (npgsqlKey is null)
        {
            return null;
        }

        probe[npgsqlKey] = probe[npgsqlKey];
        return probe.Keys.Cast<string>().SingleOrDefault() ?? npgsqlKey;
    }

    /// <summary>Reads an Npgsql keyword and its value.</summary>
    /// <exception cref="DsqlConfigurationException">Npgsql does not know the keyword, refuses the value, or DSQL cannot work with it.</exception>
    public static Option Read(string key, string? value)
    {
        var probe = new NpgsqlConnectionStringBuilder();
        var npgsqlKey = NpgsqlKeyOf(probe, key) ?? throw Unknown(key);

        var text = value?.Trim();
        try
        {
            probe[npgsqlKey] = string.IsNullOrEmpty(text) ? probe[npgsqlKey] : text;
        }
        catch (ArgumentException e)
        {
            throw new DsqlConfigurationException(PropertyOf(npgsqlKey),
                $"{key} '{text}' is not a value Npgsql accepts for it: {e.InnerException?.Message ?? e.Message}", e);
        }

        var canonical = probe.Keys.Cast<string>().SingleOrDefault() ?? npgsqlKey;
        if (DsqlKeywords.Find(canonical) is { } own)
        {
            return new Option(own, canonical, value);
        }

        var canonicalValue = string.IsNullOrEmpty(text)
            ? null
            : Convert.ToString(probe[canonical], CultureInfo.InvariantCulture) ?? text;
        var property = PropertyOf(canonical);
        if (canonicalValue is not null && property == "Enlist" && bool.TryParse(canonicalValue, out var enlist) && enlist)
        {
            throw new DsqlConfigurationException(property,
                $"Enlist '{text}' is not supported: enlisting in System.Transactions can lead to PREPARE TRANSACTION " +
                "(two-phase commit), which DSQL does not support. Remove Enlist or set Enlist=false.");
        }

        if (canonicalValue is not null && property == "NoResetOnClose" && bool.TryParse(canonicalValue, out var noReset) && !noReset)
        {
            throw new DsqlConfigurationException(property,
                $"No Reset On Close '{text}' is not supported: resetting a pooled connection sends DISCARD ALL, which " +
                "DSQL does not support. Remove No Reset On Close (the connector turns the reset off).");
        }

        return new Option(null, canonical, canonicalValue);
    }

    /// <summary>The error for a keyword neither DSQL nor Npgsql knows.</summary>
    public static DsqlConfigurationException Unknown(string key) => new(key,
        $"Unknown connection string keyword '{key}': it is neither a DSQL setting nor an Npgsql setting. " +
        "Check its spelling (keywords are case-insensitive; spaces and underscores in them are ignored).");

    private static string? NpgsqlKeyOf(NpgsqlConnectionStringBuilder probe, string key)
    {
        var compact = DsqlKeywords.Compact(key);
        return probe.ContainsKey(key) ? key : probe.ContainsKey(compact) ? compact : null;
    }

    private static string PropertyOf(string npgsqlKey) =>
        DsqlKeywords.NpgsqlProperties.TryGetValue(npgsqlKey, out var property) ? property : npgsqlKey;
}
