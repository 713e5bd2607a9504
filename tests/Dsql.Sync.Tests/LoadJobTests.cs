using Dsql.Emulator.Tests.Infrastructure;
using Dsql.Sync.Bulk;
using Dsql.Sync.Tool.Jobs;

namespace Dsql.Sync.Tests;

/// <summary>
/// The job table of <c>dsql-sync load</c> on the emulator: the order steps are claimed in, claims that race, leases
/// that run out, and two writers on one job.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class LoadJobTests(BackendFixture backend, BulkTestEmulator emulator) : IClassFixture<BulkTestEmulator>
{
    [Theory]
    [InlineData(0, 1024, new long[] { 0 })]
    [InlineData(1024, 1024, new long[] { 0 })]
    [InlineData(1025, 1024, new long[] { 0, 1024 })]
    [InlineData(2500, 1000, new long[] { 0, 1000, 2000 })]
    public void A_plan_cuts_pages_into_slices_and_the_last_one_has_no_end(long pages, long perSlice, long[] firsts)
    {
        var plan = LoadJob.Plan(pages, perSlice);

        Assert.Equal(firsts, plan.Select(s => s.FirstPage));
        Assert.Null(plan[^1].EndPage);
        Assert.All(plan.Take(plan.Count - 1).Zip(plan.Skip(1)), pair => Assert.Equal(pair.First.EndPage, pair.Second.FirstPage));
    }

    [Fact]
    public void A_plan_never_has_more_than_the_most_slices_a_table_may_have()
    {
        var plan = LoadJob.Plan(10_000_000, 1);

        Assert.Equal(LoadJob.MaxSlicesPerTable, plan.Count);
        Assert.Equal(10_000L, plan[1].FirstPage);
    }

    [Fact]
    public async Task Steps_are_claimed_schema_first_then_slices_then_finish_and_a_held_step_makes_others_wait()
    {
        var job = await NewJobAsync(TimeSpan.FromMinutes(1));

        var schema = await job.ClaimAsync("a", default);
        var waiting = await job.ClaimAsync("b", default);

        Assert.Equal(LoadJob.SchemaStep, schema.Step!.Name);
        Assert.Null(waiting.Step);
        Assert.False(waiting.JobDone);
        Assert.Contains("schema (held by a)", waiting.WaitingFor, StringComparison.Ordinal);

        await job.AddSlicesAsync("public.t", LoadJob.Plan(3000, 1000), default);
        Assert.True(await job.CompleteAsync(LoadJob.SchemaStep, "a", 0, default));
        var first = await job.ClaimAsync("a", default);
        var second = await job.ClaimAsync("b", default);
        var third = await job.ClaimAsync("c", default);
        var none = await job.ClaimAsync("d", default);

        Assert.Equal(3, new[] { first, second, third }.Select(c => c.Step!.Name).Distinct().Count());
        Assert.All(new[] { first, second, third }, c => Assert.Equal(StepPhase.Slice, c.Step!.Phase));
        Assert.Null(none.Step); // the finish step waits for every slice
        foreach (var (claim, owner) in new[] { (first, "a"), (second, "b"), (third, "c") })
            Assert.True(await job.CompleteAsync(claim.Step!.Name, owner, 10, default));
        var finish = await job.ClaimAsync("d", default);
        Assert.Equal(LoadJob.FinishStep, finish.Step!.Name);
        Assert.True(await job.CompleteAsync(LoadJob.FinishStep, "d", 0, default));

        Assert.True((await job.ClaimAsync("e", default)).JobDone);
        Assert.Equal(30L, (await job.ReadAsync(default)).Sum(s => s.RowsLoaded));
    }

    [Fact]
    public async Task Racing_claims_never_give_one_step_to_two_workers()
    {
        var job = await NewJobAsync(TimeSpan.FromMinutes(1));
        await job.AddSlicesAsync("public.t", LoadJob.Plan(8, 1), default);
        await CompleteSchemaAsync(job);

        var claims = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
        {
            // Ask until something is claimed: a claim that lost a race comes back empty, and the worker asks again.
            for (int attempt = 0; ; attempt++)
            {
                var claim = await job.ClaimAsync("w" + i, default);
                if (claim.Step is not null || attempt == 50) return claim;
            }
        })));

        var names = claims.Select(c => c.Step?.Name).ToList();
        Assert.DoesNotContain(null, names);
        Assert.Equal(8, names.Distinct().Count());
    }

    [Fact]
    public async Task A_step_whose_lease_ran_out_is_taken_over_and_its_old_owner_can_neither_renew_nor_complete_it()
    {
        var job = await NewJobAsync(TimeSpan.FromMilliseconds(300));
        await job.AddSlicesAsync("public.t", LoadJob.Plan(1, 1), default);
        await CompleteSchemaAsync(job);
        var mine = await job.ClaimAsync("old", default);
        Assert.True(await job.RenewAsync(mine.Step!.Name, "old", default));
        Assert.Null((await job.ClaimAsync("new", default)).Step);

        await Task.Delay(600);
        var taken = await job.ClaimAsync("new", default);

        Assert.Equal(mine.Step.Name, taken.Step!.Name);
        Assert.Equal(2, taken.Step.Attempts);
        Assert.False(await job.RenewAsync(mine.Step.Name, "old", default));
        Assert.False(await job.CompleteAsync(mine.Step.Name, "old", 1, default));
        Assert.True(await job.ReleaseAsync(taken.Step.Name, "new", "stopped by the test", default));
        var again = await job.ClaimAsync("third", default);
        Assert.Equal("stopped by the test", again.Step!.LastError);
    }

    [Fact]
    public async Task A_table_added_to_the_pipeline_file_reopens_the_schema_and_finish_steps()
    {
        var job = await NewJobAsync(TimeSpan.FromMinutes(1));
        await job.AddSlicesAsync("public.a", LoadJob.Plan(1, 1), default);
        await CompleteSchemaAsync(job);

        Assert.Empty(await job.RegisterAsync(["public.a"], default));
        var added = await job.RegisterAsync(["public.a", "public.b"], default);

        Assert.Equal(["public.b"], added);
        Assert.Equal(LoadJob.SchemaStep, (await job.ClaimAsync("w", default)).Step!.Name);
    }

    [Fact]
    public async Task Two_writers_on_one_job_and_the_same_rows_commit_each_chunk_once()
    {
        var dataSource = await emulator.DataSourceAsync(backend);
        string table = await BulkTestEmulator.CreateTableAsync(dataSource, "shared", "id int PRIMARY KEY, value text NOT NULL");
        string checkpoints = EmulatorConnections.UniqueName("checkpoints");
        var checkpoint = new DsqlTableCheckpoint(dataSource, checkpoints);
        await checkpoint.EnsureCreatedAsync();
        var map = new BulkColumnMap<int> { { "id", i => i }, { "value", i => "row " + i } };
        DsqlBulkWriter Writer() => new(dataSource, new DsqlBulkWriterOptions { Table = table, JobId = "shared", Checkpoint = checkpoint, MaxRowsPerChunk = 50, Parallelism = 2 });

        var results = await Task.WhenAll(
            Writer().WriteAsync(Enumerable.Range(0, 1000).ToAsyncEnumerable(), map),
            Writer().WriteAsync(Enumerable.Range(0, 1000).ToAsyncEnumerable(), map));

        Assert.Equal(1000L, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(*) FROM {table}"));
        // Each chunk committed by exactly one writer; the other found its record and skipped it.
        Assert.Equal(20L, results.Sum(r => r.Chunks));
        Assert.All(results, r => Assert.Equal(20L, r.Chunks + r.ChunksSkipped));
        Assert.Equal(1000L, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT sum(row_count)::bigint FROM {checkpoints}"));
    }

    private async Task<LoadJob> NewJobAsync(TimeSpan lease)
    {
        var dataSource = await emulator.DataSourceAsync(backend);
        var job = new LoadJob(dataSource, "job-" + Guid.NewGuid().ToString("N"), lease);
        await job.EnsureCreatedAsync(default);
        Assert.Empty(await job.RegisterAsync([], default));
        return job;
    }

    private static async Task CompleteSchemaAsync(LoadJob job)
    {
        var schema = await job.ClaimAsync("setup", default);
        Assert.True(await job.CompleteAsync(schema.Step!.Name, "setup", 0, default));
    }
}
