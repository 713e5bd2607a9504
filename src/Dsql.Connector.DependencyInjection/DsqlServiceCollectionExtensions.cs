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
            if (child.GetChildren().Any())
            {
                problems.Add($"{child.Path}: expected a value, found a section (DSQL settings are flat: Host, Region, Profile, ...).");
                continue;
            }
            if (string.Equals(child.Key, nameof(DsqlOptions.ConnectionString), StringComparison.OrdinalIgnoreCase)) options.ConnectionString = child.Value;
            else options.Settings[child.Key] = child.Value;
        }
        if (!any)
        {
            string path = section is IConfigurationSection named ? named.Path : "(root)";
            problems.Add($"{path}: the configuration section is missing or empty; it needs at least Host (the DSQL endpoint).");
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
