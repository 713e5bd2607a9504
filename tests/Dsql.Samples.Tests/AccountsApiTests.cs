using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;

namespace Dsql.Samples.Tests;

[Collection(SampleAppCollection.Name)]
public sealed class AccountsApiTests(SampleAppFactory factory)
{
    private readonly HttpClient _client = factory.CreateClient();

    [Fact]
    public async Task Health_is_Healthy_with_the_endpoint_in_its_data()
    {
        var response = await _client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("Healthy", body.RootElement.GetProperty("status").GetString());
        var check = body.RootElement.GetProperty("checks").GetProperty("dsql");
        Assert.Equal("Healthy", check.GetProperty("status").GetString());
        Assert.Contains("answers", check.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Equal(factory.Endpoint.Host, check.GetProperty("data").GetProperty("endpoint").GetString());
        Assert.Equal("us-east-1", check.GetProperty("data").GetProperty("region").GetString());
    }

    [Fact]
    public async Task An_account_starts_at_zero_and_exists_once()
    {
        long id = NewId();

        var created = await _client.PostAsync($"/accounts/{id}", null);
        var again = await _client.PostAsync($"/accounts/{id}", null);

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal(0m, await BalanceAsync(id));
        Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync($"/accounts/{NewId()}")).StatusCode);
    }

    [Fact]
    public async Task Concurrent_transfers_all_succeed_and_conserve_the_total()
    {
        long a = await CreateAccountAsync(100m);
        long b = await CreateAccountAsync(100m);

        // 20 transfers at once on the same two rows: most of them conflict at COMMIT and are run again inside
        // ExecuteInTransactionAsync; none of that reaches the client.
        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            _client.PostAsJsonAsync("/transfers", i % 2 == 0 ? new { from = a, to = b, amount = 5m } : new { from = b, to = a, amount = 5m })));

        foreach (var response in responses)
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        decimal balanceA = await BalanceAsync(a), balanceB = await BalanceAsync(b);
        Assert.Equal(200m, balanceA + balanceB);
        Assert.Equal(100m, balanceA); // ten transfers each way
    }

    [Fact]
    public async Task An_overdraft_is_refused_with_409_and_changes_nothing()
    {
        long a = await CreateAccountAsync(10m);
        long b = await CreateAccountAsync(0m);

        var response = await _client.PostAsJsonAsync("/transfers", new { from = a, to = b, amount = 50m });

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("Insufficient funds", problem.RootElement.GetProperty("title").GetString());
        Assert.Equal(10m, await BalanceAsync(a));
        Assert.Equal(0m, await BalanceAsync(b));
    }

    [Fact]
    public async Task Invalid_transfers_are_refused_with_400_and_unknown_accounts_with_404()
    {
        long a = await CreateAccountAsync(10m);

        Assert.Equal(HttpStatusCode.BadRequest, (await _client.PostAsJsonAsync("/transfers", new { from = a, to = a, amount = 1m })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _client.PostAsJsonAsync("/transfers", new { from = a, to = NewId(), amount = -1m })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _client.PostAsJsonAsync("/transfers", new { from = a, to = NewId(), amount = 1m })).StatusCode);
    }

    private async Task<long> CreateAccountAsync(decimal balance)
    {
        long id = NewId();
        Assert.Equal(HttpStatusCode.Created, (await _client.PostAsync($"/accounts/{id}", null)).StatusCode);
        if (balance > 0) Assert.Equal(HttpStatusCode.NoContent, (await _client.PostAsJsonAsync($"/accounts/{id}/deposits", new { amount = balance })).StatusCode);
        return id;
    }

    private async Task<decimal> BalanceAsync(long id)
    {
        var response = await _client.GetAsync($"/accounts/{id}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("balance").GetDecimal();
    }

    private static long NewId() => RandomNumberGenerator.GetInt32(1, int.MaxValue) * 1000L + RandomNumberGenerator.GetInt32(1000);
}
