using System.Data.Common;
using Amazon.Runtime;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Dsql.Connector;

/// <summary>
/// Registers a <see cref="DsqlDataSource"/> (and the inner <see cref="NpgsqlDataSource"/> and
/// <see cref="DbDataSource"/>) as singletons built from <see cref="DsqlOptions"/>, validated at start-up.
/// </summary>
public static class DsqlServiceCollectionExtensions
{
    /// <summary>Registers DSQL configured in code.</summary>
    public static IServiceCollection AddDsql(this IServiceCollection services, Action<DsqlOptions> configure)
        => AddDsqlCore(services, serviceKey: null, configure ?? throw new ArgumentNullException(nameof(configure)));

    /// <summary>Registers DSQL from a connection string (Npgsql-style pairs or a <c>postgres://</c> URI).</summary>
    public static IServiceCollection AddDsql(this IServiceCollection services, string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        return AddDsqlCore(services, serviceKey: null, options => options.ConnectionString = connectionString);
    }

    /// <summary>
    /// Registers DSQL from configuration: the section <paramref name="sectionName"/> (default <c>Dsql</c>) of
    /// <paramref name="configuration"/>, or <paramref name="configuration"/> itself when <paramref name="sectionName"/>
    /// is null. Keys are connection-string keywords (<c>Host</c>, <c>Region</c>, <c>Profile</c>, <c>Maximum Pool Size</c>, ...)
    /// or <c>ConnectionString</c>. Registration only records where to bind from: the section is read when the options
    /// are first created and checked at start-up (<c>ValidateOnStart</c>), where every problem is reported together,
    /// each with its configuration path, as an <see cref="OptionsValidationException"/> (a missing section, unknown
    /// keys, wrong types or out-of-range values).
    /// </summary>
    public static IServiceCollection AddDsql(this IServiceCollection services, IConfiguration configuration, string? sectionName = DsqlOptions.DefaultSectionName)
        => AddKeyedDsql(services, null, configuration, sectionName);

    /// <summary>Registers a keyed DSQL data source configured in code (several clusters or Regions in one application).</summary>
    public static IServiceCollection AddKeyedDsql(this IServiceCollection services, object? serviceKey, Action<DsqlOptions> configure)
        => AddDsqlCore(services, serviceKey, configure ?? throw new ArgumentNullException(nameof(configure)));

    /// <summary>Registers a keyed DSQL data source from a connection string.</summary>
    public static IServiceCollection AddKeyedDsql(this IServiceCollection services, object? serviceKey, string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        return AddDsqlCore(services, serviceKey, options => options.ConnectionString = connectionString);
    }

    /// <summary>Registers a keyed DSQL data source from a configuration section; see <see cref="AddDsql(IServiceCollection, IConfiguration, string?)"/>.</summary>
    public static IServiceCollection AddKeyedDsql(this IServiceCollection services, object? serviceKey, IConfiguration configuration, string? sectionName = DsqlOptions.DefaultSectionName)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = sectionName is null ? configuration : configuration.GetSection(sectionName);
        string path = section is IConfigurationSection named ? named.Path : "";
        // Bound when the options are created, so configuration providers added after this call count too; the
        // validator reports what binding found wrong together with the settings' own problems.
        return AddDsqlCore(services, serviceKey, options =>
        {
            options.SourcePath = path.Length == 0 ? null : path;
            Bind(section, options, options.BindingProblems);
        });
    }

    private static void Bind(IConfiguration section, DsqlOptions options, List<string> problems)
    {
        bool any = false;
        foreach (var child in section.GetChildren())
        {
            any = true;
            if (string.Equals(child.Key, nameof(DsqlOptions.Failover), StringComparison.OrdinalIgnoreCase))
            {
                BindFailover(child, options.Failover, problems);
                continue;
            }
            if (string.Equals(child.Key, EndpointsKey, StringComparison.OrdinalIgnoreCase))
            {
                BindEndpoints(child, options, problems);
                continue;
            }
            if (child.GetChildren().Any())
            {
                problems.Add($"{child.Path}: expected a value, found a section (DSQL settings are flat: Host, Region, Profile, ...; the sections are Failover and Endpoints).");
                continue;
            }
            if (string.Equals(child.Key, nameof(DsqlOptions.ConnectionString), StringComparison.OrdinalIgnoreCase)) options.ConnectionString = child.Value;
            else options.Settings[child.Key] = child.Value;
        }
        if (options.EndpointsPath is { } endpoints && section.GetChildren().Any(c => DsqlConnectionStringBuilder.SettingOfKeyword(c.Key) == "Host"))
            problems.Add($"{endpoints}: the endpoints are named both here and in Host; name them in one place.");
        if (!any)
        {
            string path = section is IConfigurationSection named ? named.Path : "(root)";
            problems.Add($"{path}: the configuration section is missing or empty; it needs at least Host (the DSQL endpoint).");
        }
    }

    /// <summary>The configuration key of a list of regional endpoints, an alternative to a comma-separated Host.</summary>
    private const string EndpointsKey = "Endpoints";

    /// <summary><c>Endpoints:0</c>, <c>Endpoints:1</c>, ...: the regional endpoints, each <c>host</c> or <c>host:port</c>, in order.</summary>
    private static void BindEndpoints(IConfigurationSection section, DsqlOptions options, List<string> problems)
    {
        var entries = new List<string>();
        foreach (var entry in section.GetChildren().OrderBy(c => int.TryParse(c.Key, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var i) ? i : int.MaxValue))
        {
            if (entry.GetChildren().Any() || string.IsNullOrWhiteSpace(entry.Value) || entry.Value.Contains(',', StringComparison.Ordinal))
            {
                problems.Add($"{entry.Path}: expected one endpoint (<cluster id>.dsql.<region>.on.aws, optionally host:port), found '{entry.Value}'.");
                continue;
            }
            entries.Add(entry.Value.Trim());
        }
        if (section.Value is { Length: > 0 } single) entries.Add(single.Trim());
        if (entries.Count == 0)
        {
            problems.Add($"{section.Path}: the list of endpoints is empty.");
            return;
        }
        options.Settings["Host"] = string.Join(",", entries);
        options.EndpointsPath = section.Path;
    }

    /// <summary>The failover options by property name; times are seconds (<c>1.5</c>) or <c>hh:mm:ss</c>.</summary>
    private static void BindFailover(IConfigurationSection section, DsqlFailoverOptions failover, List<string> problems)
    {
        foreach (var child in section.GetChildren())
        {
            string? text = child.Value?.Trim();
            var property = typeof(DsqlFailoverOptions).GetProperties().FirstOrDefault(p => string.Equals(p.Name, child.Key, StringComparison.OrdinalIgnoreCase));
            if (property is null || child.GetChildren().Any())
            {
                problems.Add($"{child.Path}: not a failover option (FailureThreshold, FailureWindow, ProbeInterval, RecoveryProbes, FailbackDelay, EndpointOpenTimeout).");
                continue;
            }
            if (property.PropertyType == typeof(int))
            {
                if (int.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out int number)) property.SetValue(failover, number);
                else problems.Add($"{child.Path}: '{child.Value}' is not a whole number.");
            }
            else if (double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double seconds) && double.IsFinite(seconds) && Math.Abs(seconds) < 1e9)
            {
                property.SetValue(failover, TimeSpan.FromSeconds(seconds));
            }
            else if (text is not null && text.Contains(':', StringComparison.Ordinal) && TimeSpan.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var span))
            {
                property.SetValue(failover, span);
            }
            else
            {
                problems.Add($"{child.Path}: '{child.Value}' is not a time (seconds such as 2.5, or hh:mm:ss).");
            }
        }
    }

    private static string OptionsName(object? serviceKey) => serviceKey is null ? Options.DefaultName : "dsql:" + serviceKey;

    private static IServiceCollection AddDsqlCore(IServiceCollection services, object? serviceKey, Action<DsqlOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        string name = OptionsName(serviceKey);
        services.AddOptions<DsqlOptions>(name).Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DsqlOptions>, DsqlOptionsValidator>());

        if (serviceKey is null)
        {
            services.AddSingleton(provider => CreateDataSource(provider, name, serviceKey));
            services.AddSingleton(provider => provider.GetRequiredService<DsqlDataSource>().NpgsqlDataSource);
            services.AddSingleton<DbDataSource>(provider => provider.GetRequiredService<DsqlDataSource>());
        }
        else
        {
            services.AddKeyedSingleton(serviceKey, (provider, key) => CreateDataSource(provider, name, key));
            services.AddKeyedSingleton(serviceKey, (provider, key) => provider.GetRequiredKeyedService<DsqlDataSource>(key).NpgsqlDataSource);
            services.AddKeyedSingleton<DbDataSource>(serviceKey, (provider, key) => provider.GetRequiredKeyedService<DsqlDataSource>(key));
        }
        return services;
    }

    private static DsqlDataSource CreateDataSource(IServiceProvider provider, string name, object? serviceKey)
    {
        var options = provider.GetRequiredService<IOptionsMonitor<DsqlOptions>>().Get(name);
        var problems = new List<string>(options.BindingProblems);
        var settings = (problems.Count == 0 ? options.TryCreateSettings(problems) : null) ?? throw new OptionsValidationException(name, typeof(DsqlOptions), problems);
        var builder = new DsqlDataSourceBuilder(settings);
        if (provider.GetService<ILoggerFactory>() is { } loggerFactory) builder.UseLoggerFactory(loggerFactory);
        if (provider.GetService<TimeProvider>() is { } timeProvider) builder.UseTimeProvider(timeProvider);
        var credentials = options.Credentials
            ?? (serviceKey is null ? null : provider.GetKeyedService<AWSCredentials>(serviceKey))
            ?? provider.GetService<AWSCredentials>();
        if (credentials is not null) builder.UseCredentials(credentials);
        if (options.ConfigureNpgsql is { } configureNpgsql) builder.ConfigureNpgsql(configureNpgsql);
        var failover = options.Failover;
        builder.ConfigureFailover(f =>
        {
            f.FailureThreshold = failover.FailureThreshold;
            f.FailureWindow = failover.FailureWindow;
            f.ProbeInterval = failover.ProbeInterval;
            f.RecoveryProbes = failover.RecoveryProbes;
            f.FailbackDelay = failover.FailbackDelay;
            f.EndpointOpenTimeout = failover.EndpointOpenTimeout;
        });
        return builder.Build();
    }

    /// <summary>Checks <see cref="DsqlOptions"/> at start-up, reporting every problem with its configuration path.</summary>
    private sealed class DsqlOptionsValidator : IValidateOptions<DsqlOptions>
    {
        public ValidateOptionsResult Validate(string? name, DsqlOptions options)
        {
            var problems = new List<string>(options.BindingProblems);
            if (problems.Count == 0) options.TryCreateSettings(problems);
            return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
        }
    }
}
