using System.ComponentModel;
using System.Reflection;
using Npgsql;
using static Dsql.Connector.DsqlSettingText;

namespace Dsql.Connector;

/// <summary>
/// The connection-string keywords of <see cref="DsqlConnectionStringBuilder"/>, as data: each with its name,
/// synonyms, type, default (from <see cref="DsqlQuotas"/>), parsing, formatting and checks; the keywords refused
/// outright; and the lookup by any spelling. The order of <see cref="All"/> is the order of formatted output and of
/// validation.
/// </summary>
internal static class DsqlKeywords
{
    private const string ClientCertificates =
        "DSQL authenticates with IAM authentication tokens, not client certificates; remove it.";

    public static readonly DsqlKeyword<string?> Host = new("Host", nameof(DsqlConnectionStringBuilder.Host), null,
        (_, text) => DsqlHostList.Normalize(text), s => s ?? "", ["Server"]);

    public static readonly DsqlKeyword<int> Port = new("Port", nameof(DsqlConnectionStringBuilder.Port), DsqlQuotas.Port,
        ParseInt, Format, expectation: "a port number (1-65535)", accepts: p => p is >= 1 and <= 65535);

    public static readonly DsqlKeyword<string> Database = new("Database", nameof(DsqlConnectionStringBuilder.Database),
        DsqlQuotas.Database, (_, text) => text, s => s, ["DB", "dbname"], keepsSpaces: true,
        problem: (d, _) => d == DsqlQuotas.Database ? null
            : $"Database '{d}' does not exist in DSQL: a cluster has exactly one database, '{DsqlQuotas.Database}', " +
              $"which cannot be created, renamed or dropped. Remove Database or set it to {DsqlQuotas.Database}.");

    public static readonly DsqlKeyword<string> Username = new("Username", nameof(DsqlConnectionStringBuilder.Username),
        DsqlQuotas.AdminRole, (_, text) => text, s => s, ["User Name", "User Id", "UID", "User"], keepsSpaces: true,
        problem: (u, _) => !string.IsNullOrWhiteSpace(u) ? null
            : $"Username '{u}' is empty: set it to a DSQL role such as admin, or remove it to use admin.");

    public static readonly DsqlKeyword<string?> Region = new("Region", nameof(DsqlConnectionStringBuilder.Region), null,
        (_, text) => text, s => s ?? "", ["AWS Region"]);

    public static readonly DsqlKeyword<string?> PreferredRegion = new("Preferred Region",
        nameof(DsqlConnectionStringBuilder.PreferredRegion), null, (_, text) => text, s => s ?? "",
        problem: (p, _) => p is null || DsqlEndpointName.IsRegion(p.Trim()) ? null
            : $"Preferred Region '{p}' is not an AWS Region name such as us-east-1: set it to the Region of one of the " +
              "endpoints in Host, or remove it to prefer the endpoint in the Region this process runs in.");

    public static readonly DsqlKeyword<string?> Profile = new("Profile", nameof(DsqlConnectionStringBuilder.Profile), null,
        (_, text) => text, s => s ?? "", ["AWS Profile"],
        problem: (p, _) => p is null || (p.Length > 0 && !p.Any(char.IsWhiteSpace)) ? null
            : $"Profile '{p}' is not an AWS profile name (it is empty or contains spaces). " +
              "Remove Profile to use the default credential chain.");

    public static readonly DsqlKeyword<TimeSpan> TokenLifetime = new("Token Lifetime",
        nameof(DsqlConnectionStringBuilder.TokenLifetime), DsqlQuotas.DefaultTokenLifetime, ParseSeconds, Format,
        expectation: $"a token lifetime in whole seconds from 1 to {DsqlQuotas.MaxTokenLifetimeSeconds} (7 days, DSQL's maximum), or hh:mm:ss",
        accepts: t => t >= TimeSpan.FromSeconds(1) && t <= DsqlQuotas.MaxTokenLifetime && IsWholeSeconds(t));

    public static readonly DsqlKeyword<string?> HostAddress = new("Host Address",
        nameof(DsqlConnectionStringBuilder.HostAddress), null, (_, text) => text, s => s ?? "", ["hostaddr"],
        "a host name or IP address to connect to (the endpoint stays in Host)", accepts: a => a is not null && DsqlEndpointName.IsHostOrAddress(a));

    public static readonly DsqlKeyword<string?> RootCertificate = new("Root Certificate",
        nameof(DsqlConnectionStringBuilder.RootCertificate), null, (_, text) => text, s => s ?? "", ["sslrootcert"],
        problem: (path, _) => path is null || File.Exists(path) ? null
            : $"Root Certificate '{path}' does not exist: set it to the path of a PEM file holding the root certificate " +
              "to trust, or remove it to use the system trust store (which holds Amazon Root CA 1).");

    public static readonly DsqlKeyword<SslMode> SslMode = new("SSL Mode", nameof(DsqlConnectionStringBuilder.SslMode),
        Npgsql.SslMode.VerifyFull, ParseSslMode, Format,
        expectation: "an SSL mode: VerifyFull (verify-full), or with Allow Insecure Tls=true also VerifyCA, Require, " +
                     "Prefer, Allow or Disable",
        accepts: Enum.IsDefined,
        problem: (mode, settings) => mode == Npgsql.SslMode.VerifyFull || settings.AllowInsecureTls ? null
            : $"SSL Mode '{mode}' is weaker than VerifyFull, which DSQL connections use so that authentication tokens " +
              "are only sent to a verified server. Remove SSL Mode (VerifyFull is the default), or for a test setup you " +
              "trust set Allow Insecure Tls=true as well.");

    public static readonly DsqlKeyword<bool> AllowInsecureTls = new("Allow Insecure Tls",
        nameof(DsqlConnectionStringBuilder.AllowInsecureTls), false, ParseBool, Format, expectation: "true or false");

    public static readonly DsqlKeyword<int> MaxPoolSize = new("Maximum Pool Size",
        nameof(DsqlConnectionStringBuilder.MaxPoolSize), DsqlQuotas.DefaultMaxPoolSize, ParseInt, Format, ["Max Pool Size"],
        $"a pool size from 1 to {DsqlQuotas.MaxConnections} (DSQL's limit of open connections per cluster)",
        accepts: n => n is >= 1 and <= DsqlQuotas.MaxConnections);

    public static readonly DsqlKeyword<int> MinPoolSize = new("Minimum Pool Size",
        nameof(DsqlConnectionStringBuilder.MinPoolSize), DsqlQuotas.DefaultMinPoolSize, ParseInt, Format, ["Min Pool Size"],
        "a pool size of 0 or more", accepts: n => n >= 0,
        problem: (min, settings) => min <= settings.MaxPoolSize ? null
            : $"Minimum Pool Size '{Format(min)}' is larger than Maximum Pool Size '{Format(settings.MaxPoolSize)}'.");

    public static readonly DsqlKeyword<TimeSpan> ConnectionIdleLifetime = new("Connection Idle Lifetime",
        nameof(DsqlConnectionStringBuilder.ConnectionIdleLifetime), DsqlQuotas.DefaultConnectionIdleLifetime, ParseSeconds,
        Format, expectation: "an idle lifetime in whole seconds of at least 1, or hh:mm:ss",
        accepts: t => t >= TimeSpan.FromSeconds(1) && IsWholeSeconds(t) && t.TotalSeconds <= int.MaxValue);

    public static readonly DsqlKeyword<TimeSpan?> ConnectionLifetime = new("Connection Lifetime",
        nameof(DsqlConnectionStringBuilder.ConnectionLifetime), null, (k, text) => ParseSeconds(k, text), Format,
        ["Load Balance Timeout"],
        $"a lifetime in whole seconds from 1 to {Format(DsqlQuotas.MaxConnectionLifetime)} ({DsqlQuotas.MaxConnectionLifetime.TotalMinutes:0} minutes), or hh:mm:ss",
        problem: (lifetime, _) => lifetime switch
        {
            null => null,
            { } t when t < TimeSpan.FromSeconds(1) || !IsWholeSeconds(t) =>
                $"Connection Lifetime '{Format(t)}' is not a lifetime in whole seconds greater than 0. DSQL needs " +
                "connections to be recycled before its 60-minute limit; remove Connection Lifetime to use the connector's default.",
            { } t when t > DsqlQuotas.MaxConnectionLifetime =>
                $"Connection Lifetime '{Format(t)}' is too long: DSQL closes every connection after " +
                $"{DsqlQuotas.MaxConnectionAge.TotalMinutes:0} minutes and a transaction may take up to " +
                $"{DsqlQuotas.MaxTransactionAge.TotalMinutes:0} minutes, while the pool checks the lifetime only when a " +
                "connection is rented or returned. Connection Lifetime + 5 minutes must stay under 59 minutes: use at most " +
                $"{Format(DsqlQuotas.MaxConnectionLifetime)} seconds ({DsqlQuotas.MaxConnectionLifetime.TotalMinutes:0} minutes), " +
                "or remove it to use the connector's default.",
            _ => null,
        });

    public static readonly DsqlKeyword<bool> Pooling = new("Pooling", nameof(DsqlConnectionStringBuilder.Pooling), true,
        ParseBool, Format, expectation: "true or false");

    public static readonly DsqlKeyword<int> Timeout = new("Timeout", nameof(DsqlConnectionStringBuilder.Timeout),
        DsqlQuotas.DefaultTimeout, ParseInt, Format, ["Connect Timeout"],
        $"a connect timeout in whole seconds from 1 to {DsqlQuotas.MaxTimeout}", n => n is >= 1 and <= DsqlQuotas.MaxTimeout);

    public static readonly DsqlKeyword<int> CommandTimeout = new("Command Timeout",
        nameof(DsqlConnectionStringBuilder.CommandTimeout), DsqlQuotas.DefaultCommandTimeout, ParseInt, Format,
        expectation: "a command timeout in whole seconds, 0 or more (0 waits forever)", accepts: n => n >= 0);

    public static readonly DsqlKeyword<string?> ApplicationName = new("Application Name",
        nameof(DsqlConnectionStringBuilder.ApplicationName), null, (_, text) => text, s => s ?? "", keepsSpaces: true);

    public static readonly DsqlKeyword<double> ConnectionRatePerSecond = new("Connection Rate Per Second",
        nameof(DsqlConnectionStringBuilder.ConnectionRatePerSecond), DsqlQuotas.ConnectionRatePerSecond, ParseDouble,
        Format, ["Connection Rate"], "a rate of new connections per second greater than 0",
        r => r > 0 && !double.IsInfinity(r));

    public static readonly DsqlKeyword<int> ConnectionBurst = new("Connection Burst",
        nameof(DsqlConnectionStringBuilder.ConnectionBurst), DsqlQuotas.ConnectionBurst, ParseInt, Format,
        expectation: "a burst size of at least 1", accepts: n => n >= 1);

    public static readonly DsqlKeyword<int> ConnectRetries = new("Connect Retries",
        nameof(DsqlConnectionStringBuilder.ConnectRetries), DsqlQuotas.DefaultConnectRetries, ParseInt, Format,
        expectation: $"a retry count from 0 to {DsqlQuotas.MaxConnectRetries}", accepts: n => n is >= 0 and <= DsqlQuotas.MaxConnectRetries);

    /// <summary>Every keyword, in output and validation order.</summary>
    public static readonly DsqlKeyword[] All = Numbered(
    [
        Host, Port, Database, Username, Region, PreferredRegion, Profile, TokenLifetime, HostAddress, RootCertificate, SslMode,
        AllowInsecureTls, MaxPoolSize, MinPoolSize, ConnectionIdleLifetime, ConnectionLifetime, Pooling, Timeout,
        CommandTimeout, ApplicationName, ConnectionRatePerSecond, ConnectionBurst, ConnectRetries,
    ]);

    /// <summary>Keywords refused whatever their value (read before the value, so that no error can quote a secret).</summary>
    public static readonly DsqlRefusedKeyword[] Refused =
    [
        new("Password", ["PSW", "PWD"],
            "Password is not accepted: DSQL authenticates with IAM authentication tokens, which the connector generates " +
            "for every new connection from your AWS credentials. Remove Password (the role needs dsql:DbConnect, or " +
            "dsql:DbConnectAdmin for admin)."),
        new("Passfile", [],
            "Passfile is not accepted: DSQL authenticates with IAM authentication tokens, which the connector generates, " +
            "so no password file is read. Remove Passfile."),
        new("TrustServerCertificate", ["Trust Server Certificate"],
            "Trust Server Certificate is not accepted: it would skip verification of the server certificate, and " +
            "authentication tokens must only be sent to a verified server. DSQL's certificate chains to Amazon Root CA 1 " +
            "in the system trust store; remove it (for a test setup you trust, use SSL Mode=Require with Allow Insecure Tls=true)."),
        new("SslCertificate", ["SSL Certificate", "sslcert"], "SSL Certificate is not accepted: " + ClientCertificates),
        new("SslKey", ["SSL Key", "sslkey"], "SSL Key is not accepted: " + ClientCertificates),
        new("SslPassword", ["SSL Password", "sslpassword"], "SSL Password is not accepted: " + ClientCertificates),
    ];

    private static readonly Dictionary<string, DsqlKeyword> ByName = BuildLookup(All, k => [k.Name, k.Property, .. k.Synonyms]);

    private static readonly Dictionary<string, DsqlRefusedKeyword> RefusedByName =
        BuildLookup(Refused, r => [r.Property, .. r.Synonyms]);

    /// <summary>Npgsql display names and property names to Npgsql property names.</summary>
    public static readonly IReadOnlyDictionary<string, string> NpgsqlProperties = BuildNpgsqlProperties();

    /// <summary>The DSQL keyword any spelling stands for (case, spaces and underscores ignored), or null.</summary>
    public static DsqlKeyword? Find(string keyword) => ByName.GetValueOrDefault(Normalize(keyword));

    /// <summary>The setting (property) name a keyword stands for, refused ones included, or null when unknown here.</summary>
    public static string? SettingOf(string keyword) => Find(keyword)?.Property ?? FindRefused(keyword)?.Property;

    /// <summary>The refusal of a keyword that cannot be used with DSQL, or null.</summary>
    public static DsqlRefusedKeyword? FindRefused(string keyword) => RefusedByName.GetValueOrDefault(Normalize(keyword));

    /// <summary>The keyword without spaces and underscores (the spelling Npgsql also knows).</summary>
    public static string Compact(string key) =>
        key.Replace(" ", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal);

    private static string Normalize(string key) => Compact(key).ToUpperInvariant();

    private static DsqlKeyword[] Numbered(DsqlKeyword[] keywords)
    {
        for (var i = 0; i < keywords.Length; i++)
        {
            keywords[i].Index = i;
        }

        return keywords;
    }

    private static Dictionary<string, T> BuildLookup<T>(IEnumerable<T> items, Func<T, string[]> spellings)
    {
        var lookup = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            foreach (var spelling in spellings(item))
            {
                lookup[Normalize(spelling)] = item;
            }
        }

        return lookup;
    }

    private static Dictionary<string, string> BuildNpgsqlProperties()
    {
        var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var property in typeof(NpgsqlConnectionStringBuilder).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetCustomAttribute<DisplayNameAttribute>() is { } display)
            {
                map[display.DisplayName] = property.Name;
                map[property.Name] = property.Name;
            }
        }

        return map;
    }
}

/// <summary>A keyword that cannot be used with DSQL: its setting name, spellings and the refusal (what to do instead).</summary>
internal sealed record DsqlRefusedKeyword(string Property, string[] Synonyms, string Refusal)
{
    /// <summary>The refusal as the exception to throw.</summary>
    public DsqlConfigurationException Exception() => new(Property, Refusal);
}
