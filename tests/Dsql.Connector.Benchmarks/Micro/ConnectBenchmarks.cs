using BenchmarkDotNet.Attributes;
using Dsql.Connector.Benchmarks.Lab;
using Npgsql;

namespace Dsql.Connector.Benchmarks.Micro;

/// <summary>
/// One physical connect (open and close, no pool) through the emulator, with its connection-rate limit lifted so that
/// only the connect's own cost is measured:
/// the connector against bare Npgsql with a static token (same TLS: verify-full, direct negotiation);
/// direct TLS negotiation against the SSLRequest exchange (bare Npgsql both);
/// the connector's cached token against signing a token for every connect with AWSSDK.Core's SigV4 presigner, as a
/// password provider that signs per connect does.
/// </summary>
public class ConnectBenchmarks
{
    private LabEndpoint _lab = null!;
    private NpgsqlDataSource _bare = null!;
    private NpgsqlDataSource _bareSslRequest = null!;
    private NpgsqlDataSource _signingPerConnect = null!;
    private DsqlDataSource _dsql = null!;

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    private async Task SetupAsync()
    {
        _lab = await LabEndpoint.StartAsync(LabEndpoint.Unlimited);
        _bare = _lab.Bare("Pooling=false");
        _bareSslRequest = _lab.Bare("Pooling=false;SSL Negotiation=Postgres");
        var signing = _lab.BareBuilder("Pooling=false");
        signing.UsePasswordProvider(_ => _lab.SignWithAwsSdk(), (_, _) => ValueTask.FromResult(_lab.SignWithAwsSdk()));
        _signingPerConnect = signing.Build();
        _dsql = _lab.Connector("Pooling=false;Connection Rate Per Second=1000000;Connection Burst=1000000");
        await OpenCloseAsync(_bare);
        await OpenCloseAsync(_dsql);
    }

    [GlobalCleanup]
    public void Cleanup() => CleanupAsync().GetAwaiter().GetResult();

    private async Task CleanupAsync()
    {
        await _bare.DisposeAsync();
        await _bareSslRequest.DisposeAsync();
        await _signingPerConnect.DisposeAsync();
        await _dsql.DisposeAsync();
        await _lab.DisposeAsync();
    }

    [Benchmark(Baseline = true, Description = "bare Npgsql, static token, direct TLS")]
    public Task Bare() => OpenCloseAsync(_bare);

    [Benchmark(Description = "DsqlDataSource")]
    public Task Dsql() => OpenCloseAsync(_dsql);

    [Benchmark(Description = "bare Npgsql, static token, SSLRequest")]
    public Task BareSslRequest() => OpenCloseAsync(_bareSslRequest);

    [Benchmark(Description = "bare Npgsql, token signed per connect")]
    public Task SigningPerConnect() => OpenCloseAsync(_signingPerConnect);

    private static async Task OpenCloseAsync(System.Data.Common.DbDataSource dataSource)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
    }
}
