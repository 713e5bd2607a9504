using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator.Tests.Infrastructure;
using System.Data.Common;
using Dsql.Connector;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql;

namespace Dsql.EntityFrameworkCore.Tests;

// The model the migration tests build: a Guid key, a long identity key, a one-to-many FK, an index and a JSON column.
public sealed class MigBlog
{
    public Guid Id { get; set; }
    public string Name { get; set; } = "";
    public int Rating { get; set; }
    public MigBlogMeta Meta { get; set; } = new();
    public List<MigPost> Posts { get; } = [];
}

public sealed class MigBlogMeta
{
    public string? Owner { get; set; }
    public int Visits { get; set; }
}

public sealed class MigPost
{
    public long Id { get; set; }
    public Guid BlogId { get; set; }
    public string Title { get; set; } = "";
    public string? Note { get; set; }
}

public sealed class MigBlogContext(DbContextOptions<MigBlogContext> options) : DbContext(options)
{
    public DbSet<MigBlog> Blogs => Set<MigBlog>();
    public DbSet<MigPost> Posts => Set<MigPost>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<MigBlog>(b =>
        {
            b.ToTable("mig_blogs");
            b.OwnsOne(x => x.Meta, m => m.ToJson());
            b.HasMany(x => x.Posts).WithOne().HasForeignKey(p => p.BlogId);
        });
        modelBuilder.Entity<MigPost>(p =>
        {
            p.ToTable("mig_posts");
            p.HasIndex(x => x.Title);
        });
    }

    public static readonly string[] Tables = ["mig_wide", "mig_tags", "mig_posts", "mig_blogs", "__EFMigrationsHistory", "__EFMigrationsHistory_steps", "__EFMigrationsHistory_lease"];
}

/// <summary>Counts (and records) the commands EF runs, and throws before or after the k-th DDL command when told to.</summary>
public sealed class StepInterceptor : DbCommandInterceptor
{
    private int _ddl;

    public List<string> Ddl { get; } = [];
    public int ThrowBefore { get; set; } = -1;
    public int ThrowAfter { get; set; } = -1;

    /// <summary>After the k-th DDL command: write the DDL run so far to this file and hang (a child process waiting to be killed).</summary>
    public (int K, string Marker)? HangAfter { get; set; }

    private static bool IsDdl(string sql)
    {
        string s = sql.TrimStart();
        if (s.StartsWith("/*", StringComparison.Ordinal)) return false; // backfill
        return s.StartsWith("CREATE", StringComparison.OrdinalIgnoreCase) || s.StartsWith("ALTER", StringComparison.OrdinalIgnoreCase)
            || s.StartsWith("DROP", StringComparison.OrdinalIgnoreCase) || s.StartsWith("COMMENT", StringComparison.OrdinalIgnoreCase);
    }

    private void Before(DbCommand command)
    {
        if (!IsDdl(command.CommandText)) return;
        int n = Interlocked.Increment(ref _ddl);
        if (n == ThrowBefore) throw new InvalidOperationException($"interrupted before DDL command {n}");
    }

    private void After(DbCommand command)
    {
        if (!IsDdl(command.CommandText)) return;
        lock (Ddl) Ddl.Add(command.CommandText.Trim());
        if (Ddl.Count == ThrowAfter) throw new InvalidOperationException($"interrupted after DDL command {Ddl.Count}");
        if (HangAfter is { } hang && Ddl.Count == hang.K)
        {
            File.WriteAllLines(hang.Marker + ".tmp", Ddl.Select(s => s.ReplaceLineEndings(" ")));
            File.Move(hang.Marker + ".tmp", hang.Marker);
            Thread.Sleep(Timeout.Infinite);
        }
    }

    public override InterceptionResult<int> NonQueryExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<int> result) { Before(command); return result; }
    public override ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(DbCommand command, CommandEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default) { Before(command); return ValueTask.FromResult(result); }
    public override int NonQueryExecuted(DbCommand command, CommandExecutedEventData eventData, int result) { After(command); return result; }
    public override ValueTask<int> NonQueryExecutedAsync(DbCommand command, CommandExecutedEventData eventData, int result, CancellationToken cancellationToken = default) { After(command); return ValueTask.FromResult(result); }
    public override InterceptionResult<object> ScalarExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<object> result) { Before(command); return result; }
    public override ValueTask<InterceptionResult<object>> ScalarExecutingAsync(DbCommand command, CommandEventData eventData, InterceptionResult<object> result, CancellationToken cancellationToken = default) { Before(command); return ValueTask.FromResult(result); }
    public override object? ScalarExecuted(DbCommand command, CommandExecutedEventData eventData, object? result) { After(command); return result; }
    public override ValueTask<object?> ScalarExecutedAsync(DbCommand command, CommandExecutedEventData eventData, object? result, CancellationToken cancellationToken = default) { After(command); return ValueTask.FromResult(result); }
}

internal static class MigrationTestSupport
{
    public static MigBlogContext Context(DsqlDataSource dataSource, StepInterceptor? interceptor = null, Action<Dsql.EntityFrameworkCore.Infrastructure.DsqlDbContextOptionsBuilder>? dsql = null)
    {
        var builder = new DbContextOptionsBuilder<MigBlogContext>().UseDsql(dataSource, dsql);
        if (interceptor is not null) builder.AddInterceptors(interceptor);
        return new MigBlogContext(builder.Options);
    }

    /// <summary>
    /// SaveChanges in a REPEATABLE READ transaction (DSQL's level) without savepoints, inside the context's execution
    /// strategy: independent of the provider's transaction defaults.
    /// </summary>
    public static Task SaveAsync(DbContext context)
    {
        context.Database.AutoSavepointsEnabled = false; // DSQL has no savepoints
        return context.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            await using var transaction = await context.Database.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
            await context.SaveChangesAsync();
            await transaction.CommitAsync();
        });
    }

    /// <summary>Drops what a test may have left (the tests share one backend database).</summary>
    public static void Reset(Dsql.Emulator.Tests.Infrastructure.BackendFixture backend, params string[] tables)
    {
        using var connection = backend.OpenDirect();
        foreach (string table in tables)
        {
            using var drop = new NpgsqlCommand($"DROP TABLE IF EXISTS \"{table}\" CASCADE", connection);
            drop.ExecuteNonQuery();
        }
    }

    public static List<string> Columns(Dsql.Emulator.Tests.Infrastructure.BackendFixture backend, string table)
    {
        using var connection = backend.OpenDirect();
        using var command = new NpgsqlCommand("SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = @t ORDER BY column_name", connection);
        command.Parameters.AddWithValue("t", table);
        using var reader = command.ExecuteReader();
        var names = new List<string>();
        while (reader.Read()) names.Add(reader.GetString(0));
        return names;
    }

    public static long Scalar(Dsql.Emulator.Tests.Infrastructure.BackendFixture backend, string sql)
    {
        using var connection = backend.OpenDirect();
        using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>
/// The set-up every migrations test class shares: the model's tables dropped on the shared backend, then an emulator
/// whose DSQL jobs take at least 50 ms (so waits on them are exercised) and a data source on it.
/// </summary>
public abstract class MigrationEmulatorTest(BackendFixture backend) : IAsyncLifetime
{
    private protected BackendFixture Backend => backend;

    private protected ConnectorHarness Harness { get; private set; } = null!;

    protected Dsql.Connector.DsqlDataSource DataSource { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        MigrationTestSupport.Reset(backend, MigBlogContext.Tables);
        Harness = await ConnectorHarness.StartAsync(backend, o => o.MinimumJobDuration = TimeSpan.FromMilliseconds(50));
        DataSource = Harness.Build();
    }

    public async Task DisposeAsync()
    {
        await DataSource.DisposeAsync();
        await Harness.DisposeAsync();
    }
}
