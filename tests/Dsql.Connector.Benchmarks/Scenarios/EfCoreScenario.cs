using System.Data;
using System.Globalization;
using Dsql.Connector.Benchmarks.Lab;
using Microsoft.EntityFrameworkCore;

namespace Dsql.Connector.Benchmarks.Scenarios;

/// <summary>
/// EF Core's SaveChanges through <c>UseDsql()</c> against Npgsql's provider alone (<c>UseNpgsql</c>) on the same
/// <see cref="DsqlDataSource"/> and emulator: one small entity, and a batch of 100. The same SQL reaches the server
/// on both sides; the difference is what Dsql.EntityFrameworkCore adds on the client (its open path, transaction,
/// command and strategy services).
/// </summary>
internal static class EfCoreScenario
{
    public const double RatioTarget = 1.05;
    private const int BatchSize = 100;

    public static async Task<ScenarioResult> RunAsync(LabSettings settings)
    {
        int rounds = settings.Quick ? 60 : 240;
        var result = new ScenarioResult
        {
            Id = "efcore",
            Title = "EF Core SaveChanges: UseDsql against UseNpgsql",
            Method = string.Create(CultureInfo.InvariantCulture,
                $"A new context per unit of work adds entities (a Guid key, a short text, an int) and calls `SaveChangesAsync`: one entity (blocks of 20), and {BatchSize} entities (blocks of 5), ") +
                $"{rounds} interleaved rounds after 3 warm-up rounds, the order rotating every round. Both sides use the same `DsqlDataSource` (pool, tokens, TLS) and the same emulator in its own process. " +
                "One entity is a single INSERT in autocommit on both sides. For the batch, `UseDsql`'s SaveChanges begins its own REPEATABLE READ transaction; Npgsql's provider alone would begin READ COMMITTED, " +
                "which DSQL refuses, so its side begins a REPEATABLE READ transaction around SaveChanges itself (automatic savepoints off): the same statements on the wire.",
        };

        await using var lab = await LabEndpoint.StartAsync(LabEndpoint.Unlimited);
        await using var dataSource = lab.Connector();
        await dataSource.ExecuteNonQueryAsync("CREATE TABLE lab_items (id uuid PRIMARY KEY, name text NOT NULL, quantity int NOT NULL)");
        var dsqlOptions = new DbContextOptionsBuilder<LabContext>().UseDsql(dataSource).Options;
        var npgsqlOptions = new DbContextOptionsBuilder<LabContext>().UseNpgsql(dataSource).Options;

        static LabItem Item(int i) => new() { Id = Guid.NewGuid(), Name = "item " + i.ToString(CultureInfo.InvariantCulture), Quantity = i };

        async Task DsqlOne()
        {
            await using var context = new LabContext(dsqlOptions);
            context.Items.Add(Item(1));
            await context.SaveChangesAsync();
        }

        async Task NpgsqlOne()
        {
            await using var context = new LabContext(npgsqlOptions);
            context.Items.Add(Item(1));
            await context.SaveChangesAsync();
        }

        async Task DsqlBatch()
        {
            await using var context = new LabContext(dsqlOptions);
            for (int i = 0; i < BatchSize; i++) context.Items.Add(Item(i));
            await context.SaveChangesAsync();
        }

        async Task NpgsqlBatch()
        {
            await using var context = new LabContext(npgsqlOptions);
            context.Database.AutoSavepointsEnabled = false;
            for (int i = 0; i < BatchSize; i++) context.Items.Add(Item(i));
            await using var transaction = await context.Database.BeginTransactionAsync(IsolationLevel.RepeatableRead);
            await context.SaveChangesAsync();
            await transaction.CommitAsync();
        }

        settings.Log("efcore: one entity");
        var one = await Interleaved.RunAsync([("Npgsql", NpgsqlOne), ("Dsql", DsqlOne)], operationsPerBlock: 20, rounds: rounds, warmupRounds: 3);
        settings.Log("efcore: 100 entities");
        var batch = await Interleaved.RunAsync([("Npgsql", NpgsqlBatch), ("Dsql", DsqlBatch)], operationsPerBlock: 5, rounds: rounds, warmupRounds: 3);

        result.Comparisons.Add(Paired(one, "SaveChanges of one entity"));
        result.Comparisons.Add(Paired(batch, $"SaveChanges of {BatchSize} entities"));
        // Allocations do not depend on the machine's load: what the client side costs, whatever the noise of the timings.
        settings.Log("efcore: allocations and client CPU");
        var (npgsqlOneBytes, npgsqlOneCpu) = await CostAsync(NpgsqlOne, 200);
        var (dsqlOneBytes, dsqlOneCpu) = await CostAsync(DsqlOne, 200);
        var (npgsqlBatchBytes, npgsqlBatchCpu) = await CostAsync(NpgsqlBatch, 40);
        var (dsqlBatchBytes, dsqlBatchCpu) = await CostAsync(DsqlBatch, 40);
        result.Comparisons.Add(Comparison.Informative("allocated per SaveChanges of one entity (whole process, 200 units)", "UseNpgsql", npgsqlOneBytes, "UseDsql", dsqlOneBytes, "B"));
        result.Comparisons.Add(Comparison.Informative($"allocated per SaveChanges of {BatchSize} entities (whole process, 40 units)", "UseNpgsql", npgsqlBatchBytes, "UseDsql", dsqlBatchBytes, "B"));
        result.Comparisons.Add(Comparison.Informative("client CPU per SaveChanges of one entity (lab process, 200 units)", "UseNpgsql", npgsqlOneCpu, "UseDsql", dsqlOneCpu, "µs"));
        result.Comparisons.Add(Comparison.Informative($"client CPU per SaveChanges of {BatchSize} entities (lab process, 40 units)", "UseNpgsql", npgsqlBatchCpu, "UseDsql", dsqlBatchCpu, "µs"));
        long rows = await CountAsync(dataSource);
        result.Notes.Add(string.Create(CultureInfo.InvariantCulture, $"{rows:#,0} rows written in all."));
        return result;
    }

    /// <summary>
    /// Bytes allocated and CPU time used by the lab's process per unit (the emulator runs in its own process), after a
    /// warm-up: the medians of three blocks. Neither waits on the network, so both hold better than wall time on a busy machine.
    /// </summary>
    private static async Task<(double Bytes, double CpuMicros)> CostAsync(Func<Task> unit, int units)
    {
        for (int i = 0; i < 20; i++) await unit();
        var bytes = new double[3];
        var cpu = new double[3];
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        for (int b = 0; b < bytes.Length; b++)
        {
            process.Refresh();
            var cpuBefore = process.TotalProcessorTime;
            long before = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < units; i++) await unit();
            bytes[b] = (double)(GC.GetTotalAllocatedBytes(precise: true) - before) / units;
            process.Refresh();
            cpu[b] = (process.TotalProcessorTime - cpuBefore).TotalMicroseconds / units;
        }
        return (Stats.Median(bytes), Stats.Median(cpu));
    }

    private static Comparison Paired(Interleaved.Rounds rounds, string measure)
    {
        var (ratio, low, high) = rounds.Ratio("Npgsql", "Dsql");
        string spread = string.Create(CultureInfo.InvariantCulture, $" (interleaved; IQR of the ratio {low:0.000}-{high:0.000})");
        return Comparison.RatioAtMost(measure + spread, "UseNpgsql", rounds.Median("Npgsql"), "UseDsql", rounds.Median("Dsql"), "µs", RatioTarget, ratio);
    }

    private static async Task<long> CountAsync(DsqlDataSource dataSource)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT count(*) FROM lab_items", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    internal sealed class LabItem
    {
        public Guid Id { get; set; }
        public string Name { get; set; } = "";
        public int Quantity { get; set; }
    }

    internal sealed class LabContext(DbContextOptions<LabContext> options) : DbContext(options)
    {
        public DbSet<LabItem> Items => Set<LabItem>();

        protected override void OnModelCreating(ModelBuilder modelBuilder)
        {
            var item = modelBuilder.Entity<LabItem>().ToTable("lab_items");
            item.Property(i => i.Id).HasColumnName("id");
            item.Property(i => i.Name).HasColumnName("name");
            item.Property(i => i.Quantity).HasColumnName("quantity");
        }
    }
}
