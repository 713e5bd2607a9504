using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Amazon.Runtime;
using Dsql.Emulator;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Dsql.Samples.Tests;

/// <summary>
/// The AspNetCore sample configured for a multi-Region cluster with the keys its README shows (two endpoints, the
/// preferred Region, a failover option), against an emulator with two endpoints over one backend: transfers go on and
/// /health says Degraded while the preferred endpoint is unavailable, and Healthy once it is back.
/// </summary>
public sealed class MultiRegionSampleTests
{
    [Fact]
    public async Task Transfers_go_on_and_health_is_Degraded_while_the_preferred_Region_is_unavailable()
    {
        await using var emulator = await DsqlEmulator.StartAsync(new DsqlEmulatorOptions
        {
            Endpoints =
            {
                new EmulatorEndpoint($"{SampleAppFactory.UniqueClusterId()}.dsql.us-east-1.on.aws"),
                new EmulatorEndpoint($"{SampleAppFactory.UniqueClusterId()}.dsql.us-east-2.on.aws"),
            },
        });
        var (east, west) = (emulator.Endpoints[0], emulator.Endpoints[1]);
        await using var app = new WebApplicationFactory<Program>().WithWebHostBuilder(builder =>
        {
            // The README's keys: the endpoints (host:port here, for the emulator's loopback ports), the preferred Region
            // and a failover option; Host Address and Root Certificate aim both endpoints at the emulator.
            builder.UseSetting("Dsql:Host", string.Create(CultureInfo.InvariantCulture, $"{east.Host}:{east.Port},{west.Host}:{west.Port}"));
            builder.UseSetting("Dsql:PreferredRegion", "us-east-1");
            builder.UseSetting("Dsql:Failover:FailbackDelay", "1");
            builder.UseSetting("Dsql:Failover:ProbeInterval", "0.2");
            builder.UseSetting("Dsql:Host Address", "127.0.0.1");
            builder.UseSetting("Dsql:Root Certificate", east.CaCertificatePath);
            builder.ConfigureTestServices(services =>
                services.AddSingleton<AWSCredentials>(new BasicAWSCredentials(DsqlEmulatorOptions.ExampleAccessKeyId, DsqlEmulatorOptions.ExampleSecretAccessKey)));
        });
        using var client = app.CreateClient();
        long a = Random.Shared.NextInt64(1, long.MaxValue / 2), b = a + 1;
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync($"/accounts/{a}", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync($"/accounts/{b}", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await client.PostAsJsonAsync($"/accounts/{a}/deposits", new { amount = 100 })).StatusCode);

        emulator.Faults.ForEndpoint(east.Host).Unavailable(EndpointOutage.CutSessions);
        for (int i = 0; i < 10; i++)
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/transfers", new { from = a, to = b, amount = 1 })).StatusCode);
        var degraded = await HealthAsync(client);
        Assert.Equal("Degraded", degraded.GetProperty("status").GetString());

        emulator.Faults.ForEndpoint(east.Host).Available();
        string status = "";
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); waited.Elapsed < TimeSpan.FromSeconds(60) && status != "Healthy"; await Task.Delay(100))
            status = (await HealthAsync(client)).GetProperty("status").GetString()!;
        Assert.Equal("Healthy", status);
        using var balance = JsonDocument.Parse(await client.GetStringAsync($"/accounts/{b}"));
        Assert.Equal(10m, balance.RootElement.GetProperty("balance").GetDecimal());
    }

    private static async Task<JsonElement> HealthAsync(HttpClient client)
    {
        using var body = JsonDocument.Parse(await (await client.GetAsync("/health")).Content.ReadAsStringAsync());
        return body.RootElement.Clone();
    }
}
