using System.Net;
using System.Text.Json;
using Dsql.Connector;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Dsql.Samples.Tests;

[Collection(SampleAppCollection.Name)]
public sealed class HealthAndStartupTests(SampleAppFactory factory)
{
    [Fact]
    public async Task Health_is_Unhealthy_with_reason_rate_limit_while_DSQL_refuses_connections()
    {
        // An app of its own without connect retries, so that the refusal reaches the check at once.
        await using var app = factory.WithWebHostBuilder(builder => builder.UseSetting("Dsql:Connect Retries", "0"));
        using var client = app.CreateClient(); // starts the app: the start-up step creates the table
        app.Services.GetRequiredService<DsqlDataSource>().NpgsqlDataSource.Clear(); // no idle connection to fall back on

        factory.Emulator.Faults.RefuseNextConnections(50, "53300");
        HttpResponseMessage response;
        try
        {
            response = await client.GetAsync("/health");
        }
        finally
        {
            factory.Emulator.Faults.RefuseNextConnections(0);
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("Unhealthy", body.RootElement.GetProperty("status").GetString());
        var check = body.RootElement.GetProperty("checks").GetProperty("dsql");
        Assert.Equal("rate_limit", check.GetProperty("data").GetProperty("reason").GetString());
        Assert.Contains("refused connections", check.GetProperty("description").GetString(), StringComparison.Ordinal);

        var healthy = await client.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);
    }

    [Fact]
    public void A_bad_Dsql_section_stops_the_app_with_every_problem_and_its_path()
    {
        using var app = new WebApplicationFactory<Program>().WithWebHostBuilder(builder =>
        {
            builder.UseSetting("Dsql:Host", "");                  // missing endpoint
            builder.UseSetting("Dsql:Hots", "typo.example");      // unknown key
            builder.UseSetting("Dsql:Port", "abc");               // wrong type
            builder.UseSetting("Dsql:Maximum Pool Size", "0");    // out of range
        });

        // AddDsql(IConfiguration) checks the section when Program calls it: the host is never built.
        var validation = Assert.Throws<OptionsValidationException>(() => app.CreateClient());
        string message = validation.Message;
        Assert.Contains("Dsql:Hots", message, StringComparison.Ordinal);
        Assert.Contains("Dsql:Port", message, StringComparison.Ordinal);
        Assert.Contains("Dsql:Maximum Pool Size", message, StringComparison.Ordinal);
        Assert.Contains("Dsql:Host:", message, StringComparison.Ordinal);
        Assert.Equal(4, validation.Failures.Count());
    }

    [Fact]
    public void A_wrong_type_alone_is_reported_with_its_path_and_value()
    {
        using var app = factory.WithWebHostBuilder(builder => builder.UseSetting("Dsql:Port", "abc"));

        var ex = Assert.ThrowsAny<Exception>(() => app.CreateClient());

        var validation = Find<OptionsValidationException>(ex);
        Assert.NotNull(validation);
        Assert.Contains("Dsql:Port", validation.Message, StringComparison.Ordinal);
        Assert.Contains("abc", validation.Message, StringComparison.Ordinal);
    }

    private static T? Find<T>(Exception? exception) where T : Exception
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            if (exception is T found) return found;
            if (exception is AggregateException aggregate)
                foreach (var inner in aggregate.InnerExceptions)
                    if (Find<T>(inner) is { } nested) return nested;
        }
        return null;
    }
}
