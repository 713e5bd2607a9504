using System.Security.Cryptography;
using Amazon.Runtime;
using Dsql.Emulator;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Dsql.Samples.Tests;

/// <summary>
/// The AspNetCore sample hosted in memory against a local DSQL emulator (its own throwaway PostgreSQL cluster).
/// The app is configured exactly as in production (section "Dsql"), aimed at the emulator through
/// Host Address and its CA; the credentials are the emulator's example key, registered in the container.
/// </summary>
public sealed class SampleAppFactory : WebApplicationFactory<Program>, IAsyncLifetime
{
    private DsqlEmulator? _emulator;

    public DsqlEmulator Emulator => _emulator ?? throw new InvalidOperationException("The emulator has not started.");

    public EmulatorEndpointInfo Endpoint => Emulator.Endpoints[0];

    /// <summary>The settings the app runs with (configuration keys under "Dsql"), before any test-specific change.</summary>
    public IReadOnlyDictionary<string, string?> DsqlSettings => new Dictionary<string, string?>
    {
        ["Dsql:Host"] = Endpoint.Host,
        ["Dsql:Host Address"] = "127.0.0.1",
        ["Dsql:Port"] = Endpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Dsql:Root Certificate"] = Endpoint.CaCertificatePath,
    };

    public async Task InitializeAsync()
    {
        // An endpoint name of its own: the connector's connection-rate bucket is per endpoint and process-wide.
        _emulator = await DsqlEmulator.StartAsync(new DsqlEmulatorOptions { Endpoints = { new EmulatorEndpoint($"{UniqueClusterId()}.dsql.us-east-1.on.aws") } });
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        if (_emulator is not null) await _emulator.DisposeAsync();
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in DsqlSettings) builder.UseSetting(key, value);
        builder.ConfigureTestServices(services =>
            services.AddSingleton<AWSCredentials>(new BasicAWSCredentials(DsqlEmulatorOptions.ExampleAccessKeyId, DsqlEmulatorOptions.ExampleSecretAccessKey)));
    }

    public static string UniqueClusterId()
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
        return string.Create(26, 0, (span, _) =>
        {
            for (int i = 0; i < span.Length; i++) span[i] = alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)];
        });
    }
}

[CollectionDefinition(Name)]
public sealed class SampleAppCollection : ICollectionFixture<SampleAppFactory>
{
    public const string Name = "sample app";
}
