using System.Collections.Concurrent;
using Dsql.Connector;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator;
using Dsql.Emulator.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using Xunit.Abstractions;

namespace Dsql.EntityFrameworkCore.Tests;

/// <summary>
/// EF Core on a data source over two regional endpoints of the emulator (one backend: one multi-Region cluster).
/// Contexts live long, as pooled ones do, so each keeps its connection between units of work: when the preferred
/// endpoint becomes unavailable the units go on on the peer, none fails, and after recovery the same contexts come back.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class MultiRegionTests(BackendFixture backend, ITestOutputHelper output)
{
    private const int Workers = 4;

    private sealed class Work(RuntimeHarness harness, int peerPort)
    {
        private long _done, _onPeer, _onPreferred, _failed, _verified;
        public ConcurrentQueue<string> Errors { get; } = new();
        public ConcurrentDictionary<Guid, bool> Saved { get; } = new();
        public long Done => Interlocked.Read(ref _done);
        public long OnPeer => Interlocked.Read(ref _onPeer);
        public long Failed => Interlocked.Read(ref _failed);
        public long Verified => Interlocked.Read(ref _verified);
        public long OnPreferred => Interlocked.Read(ref _onPreferred);

        public async Task RunAsync(CancellationToken stop)
        {
            // One context for the whole run: its connection is kept between units of work.
            await using var context = harness.Context(o => o.Retries(r => { r.MaxRetries = 10; r.BaseDelay = TimeSpan.FromMilliseconds(5); }));
            var strategy = context.Database.CreateExecutionStrategy();
            while (!stop.IsCancellationRequested)
            {
                var id = Guid.NewGuid();
                try
                {
                    int port = await strategy.ExecuteAsync(id,
                        async (ctx, noteId, ct) =>
                        {
                            ctx.ChangeTracker.Clear();
                            await using var transaction = await ctx.Database.BeginTransactionAsync(ct);
                            ((ShopContext)ctx).Notes.Add(new Note { Id = noteId, Text = "multi-Region" });
                            await ctx.SaveChangesAsync(ct);
                            int served = ((NpgsqlConnection)ctx.Database.GetDbConnection()).Port;
                            await transaction.CommitAsync(ct);
                            return served;
                        },
                        async (ctx, noteId, ct) =>
                        {
                            // An interrupted COMMIT: the note is there or it is not.
                            Interlocked.Increment(ref _verified);
                            ctx.ChangeTracker.Clear();
                            bool there = await ((ShopContext)ctx).Notes.AnyAsync(n => n.Id == noteId, ct);
                            return new ExecutionResult<int>(there, -1);
                        },
                        CancellationToken.None);
                    Saved[id] = true;
                    Interlocked.Increment(ref _done);
                    if (port == peerPort) Interlocked.Increment(ref _onPeer);
                    else if (port > 0) Interlocked.Increment(ref _onPreferred);
                }
                catch (Exception ex)
                {
                    Interlocked.Increment(ref _failed);
                    Errors.Enqueue(ex.ToString());
                }
            }
        }
    }

    [Theory]
    [InlineData(EndpointOutage.RefuseConnects)]
    [InlineData(EndpointOutage.CutSessions)]
    public async Task Long_lived_contexts_save_through_an_outage_of_the_preferred_endpoint_and_come_back_after_it(EndpointOutage outage)
    {
        await using var connector = await ConnectorHarness.StartTwoRegionsAsync(backend);
        var (east, west) = (connector.Endpoint, connector.Peer);
        await using var dataSource = connector.TwoRegionBuilder()
            .PreferRegion("us-east-1")
            .ConfigureFailover(o => { o.ProbeInterval = TimeSpan.FromMilliseconds(200); o.RecoveryProbes = 2; o.FailbackDelay = TimeSpan.FromSeconds(1); })
            .Build();
        var harness = await RuntimeHarness.CreateSchemaAsync(connector, dataSource);
        var work = new Work(harness, west.Port);
        using var stop = new CancellationTokenSource();
        var workers = Enumerable.Range(0, Workers).Select(_ => Task.Run(() => work.RunAsync(stop.Token))).ToArray();
        var eastFaults = connector.Emulator.Faults.ForEndpoint(east.Host);

        await ConnectorHarness.WaitForAsync(() => work.Done > 40, "units on the preferred endpoint");
        using var onPeer = new TelemetryCollector(west.Host);
        Assert.Equal(0, work.OnPeer);
        eastFaults.Unavailable(outage);
        // Refusing connects leaves open sessions serving: closing them makes every context's next open connect.
        if (outage == EndpointOutage.RefuseConnects) connector.Emulator.Faults.CloseAllSessions();
        await ConnectorHarness.WaitForAsync(() => work.OnPeer > 40, "units on the peer");
        Assert.Equal(west.Host, dataSource.Endpoint);

        eastFaults.Available();
        await ConnectorHarness.WaitForAsync(() => dataSource.Endpoint == east.Host, "failback to the preferred endpoint");
        long preferredAtFailback = work.OnPreferred;
        await ConnectorHarness.WaitForAsync(() => work.OnPreferred > preferredAtFailback + 40, "the same contexts back on the preferred endpoint");
        await stop.CancelAsync();
        await Task.WhenAll(workers);

        output.WriteLine($"{outage}: {work.Done} units, {work.OnPeer} on the peer, {work.Verified} interrupted commits checked");
        Assert.True(work.Failed == 0, string.Join(Environment.NewLine, work.Errors.Take(3)));
        // Every unit that returned saved its note once, and nothing else was saved.
        Assert.Equal(work.Saved.Count, await harness.ScalarAsync($"SELECT count(*) FROM {harness.Schema}.notes"));
        Assert.Equal(work.Done, work.Saved.Count);
        // Units whose sessions the outage cut ran again; their retries count under the endpoint that failed them,
        // never under the peer, whose sessions CutSessions leaves alone (CloseAllSessions, for RefuseConnects, does not).
        if (outage == EndpointOutage.CutSessions) Assert.Equal(0, onPeer.Sum("dsql.transaction.retries", "reason", "connection_lost"));
    }
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_open_refused_by_the_preferred_endpoint_goes_to_the_peer_within_the_same_SaveChanges(bool synchronous)
    {
        await using var connector = await ConnectorHarness.StartTwoRegionsAsync(backend);
        // The preferred endpoint refuses every connect but, with this threshold, stays the one opens go to: each open
        // must move on by itself.
        await using var dataSource = connector.TwoRegionBuilder().PreferRegion("us-east-1").ConfigureFailover(o => o.FailureThreshold = 100).Build();
        var refusing = connector.Emulator.Faults.ForEndpoint(connector.Endpoint.Host);
        refusing.Unavailable(EndpointOutage.RefuseConnects);
        var harness = await RuntimeHarness.CreateSchemaAsync(connector, dataSource);
        int refusedBefore = refusing.ConnectsRefused;
        // No retry of the unit: the open itself moves on.
        await using var context = harness.Context(o => o.Retries(r => r.MaxRetries = 0));
        context.Notes.Add(new Note { Id = Guid.NewGuid(), Text = synchronous ? "sync" : "async" });
        int saved = synchronous ? context.SaveChanges() : await context.SaveChangesAsync();

        Assert.Equal(1, saved);
        // The context's connection (closed again) is now the peer's.
        Assert.EndsWith($":{connector.Peer.Port}", context.Database.GetDbConnection().DataSource, StringComparison.Ordinal);
        Assert.Equal(1, await harness.ScalarAsync($"SELECT count(*) FROM {harness.Schema}.notes"));
        Assert.True(refusing.ConnectsRefused > refusedBefore, "the context's open went to the preferred endpoint first");
        Assert.Equal(connector.Endpoint.Host, dataSource.Endpoint);
    }
}
