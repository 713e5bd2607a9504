using System.Diagnostics;
using System.Reflection;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.EntityFrameworkCore.Migrations;
using Dsql.EntityFrameworkCore.Tests.TestMigrations;
using Dsql.Emulator.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Xunit.Abstractions;

namespace Dsql.EntityFrameworkCore.Tests;

[Collection(BackendCollection.Name)]
public sealed class MigrationTests(BackendFixture backend, ITestOutputHelper output) : MigrationEmulatorTest(backend)
{
    private static string[] AllMigrations => ["20260101000001_Blogs", "20260101000002_Rating", "20260101000003_Wide"];

    [Fact]
    public async Task Migrate_up_down_and_up_again_builds_the_schema_and_the_model_works_on_it()
    {
        await using (var context = MigrationTestSupport.Context(DataSource))
        {
            await context.Database.MigrateAsync();
            Assert.Equal(AllMigrations, await context.Database.GetAppliedMigrationsAsync());
        }

        Assert.Contains("Rating", MigrationTestSupport.Columns(Backend, "mig_blogs"));
        Assert.Contains("Points", MigrationTestSupport.Columns(Backend, "mig_wide"));
        Assert.Equal(0, MigrationTestSupport.Scalar(Backend, "SELECT count(*) FROM \"__EFMigrationsHistory_steps\""));

        await using (var context = MigrationTestSupport.Context(DataSource))
        {
            await context.Database.MigrateAsync(Migration.InitialDatabase);
            Assert.Empty(await context.Database.GetAppliedMigrationsAsync());
        }

        Assert.Empty(MigrationTestSupport.Columns(Backend, "mig_blogs"));
        Assert.Empty(MigrationTestSupport.Columns(Backend, "mig_posts"));

        await using (var context = MigrationTestSupport.Context(DataSource))
        {
            context.Database.Migrate("20260101000002_Rating"); // the sync path, to a target
            Assert.Equal(AllMigrations[..2], context.Database.GetAppliedMigrations());
            context.Database.Migrate();
        }

        await using (var context = MigrationTestSupport.Context(DataSource))
        {
            var blog = new MigBlog { Name = "b", Rating = 3, Meta = new MigBlogMeta { Owner = "ann", Visits = 2 } };
            blog.Posts.Add(new MigPost { Title = "one" });
            blog.Posts.Add(new MigPost { Title = "two" });
            context.Blogs.Add(blog);
            await MigrationTestSupport.SaveAsync(context);
            Assert.NotEqual(Guid.Empty, blog.Id);
            Assert.All(blog.Posts, p => Assert.True(p.Id > 0));
        }

        await using (var context = MigrationTestSupport.Context(DataSource))
        {
            var loaded = await context.Blogs.Include(b => b.Posts).SingleAsync(b => b.Meta.Owner == "ann");
            Assert.Equal(2, loaded.Meta.Visits);
            Assert.Equal(2, loaded.Posts.Count);
        }
    }

    [Theory]
    [InlineData(6, false)]
    [InlineData(4, true)]
    [InlineData(12, true)]
    public async Task A_migration_interrupted_at_a_step_resumes_without_applying_a_step_twice(int k, bool afterTheStepCommitted)
    {
        var interrupted = new StepInterceptor();
        if (afterTheStepCommitted) interrupted.ThrowAfter = k; else interrupted.ThrowBefore = k;
        await using (var context = MigrationTestSupport.Context(DataSource, interrupted))
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => context.Database.MigrateAsync());
            Assert.Contains("interrupted", error.Message);
        }

        var resumed = new StepInterceptor();
        await using (var context = MigrationTestSupport.Context(DataSource, resumed))
        {
            await context.Database.MigrateAsync();
            Assert.Equal(AllMigrations, await context.Database.GetAppliedMigrationsAsync());
        }

        // Every DDL statement of the three migrations ran once in all (the one that committed without its record is
        // tried again and found done, so it may appear in both runs, but nothing else does).
        var all = interrupted.Ddl.Concat(resumed.Ddl).Where(s => !s.Contains("IF NOT EXISTS", StringComparison.Ordinal)).ToList();
        var twice = all.GroupBy(s => s).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(twice.Count <= (afterTheStepCommitted ? 1 : 0), "ran twice: " + string.Join(" | ", twice));
        Assert.Contains("Rating", MigrationTestSupport.Columns(Backend, "mig_blogs"));
        Assert.Contains("Views", MigrationTestSupport.Columns(Backend, "mig_posts"));
        Assert.Equal(1, MigrationTestSupport.Scalar(Backend, "SELECT count(*) FROM mig_wide"));
        Assert.Equal(0, MigrationTestSupport.Scalar(Backend, "SELECT count(*) FROM \"__EFMigrationsHistory_steps\""));
        Assert.Equal(0, MigrationTestSupport.Scalar(Backend, "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'IX_mig%' AND NOT i.indisvalid"));
        Assert.Equal(0, MigrationTestSupport.Scalar(Backend, "SELECT count(*) FROM sys.jobs WHERE status IN ('submitted', 'processing')"));
    }

    [Fact]
    public async Task A_migration_interrupted_going_up_must_be_finished_before_going_down()
    {
        await using (var context = MigrationTestSupport.Context(DataSource, new StepInterceptor { ThrowBefore = 7 }))
        {
            await Assert.ThrowsAsync<InvalidOperationException>(() => context.Database.MigrateAsync());
        }

        await using (var context = MigrationTestSupport.Context(DataSource))
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => context.Database.MigrateAsync(Migration.InitialDatabase));
            Assert.Contains("'20260101000002_Rating' was interrupted while being applied (3 step(s) done)", error.Message);
            await context.Database.MigrateAsync("20260101000002_Rating");
            await context.Database.MigrateAsync(Migration.InitialDatabase);
            Assert.Empty(await context.Database.GetAppliedMigrationsAsync());
        }
    }

    [Fact]
    public async Task Two_migrators_at_once_apply_each_step_exactly_once()
    {
        var first = new StepInterceptor();
        var second = new StepInterceptor();
        await using var a = MigrationTestSupport.Context(DataSource, first);
        await using var b = MigrationTestSupport.Context(DataSource, second);

        await Task.WhenAll(Task.Run(() => a.Database.MigrateAsync()), Task.Run(() => b.Database.MigrateAsync()));

        var migrationSteps = first.Ddl.Concat(second.Ddl).Where(s => !s.Contains("IF NOT EXISTS", StringComparison.Ordinal)).ToList();
        Assert.Equal(migrationSteps.Count, migrationSteps.Distinct().Count());
        Assert.Equal(1, MigrationTestSupport.Scalar(Backend, "SELECT count(*) FROM mig_wide"));
        Assert.Equal(3, MigrationTestSupport.Scalar(Backend, "SELECT count(*) FROM \"__EFMigrationsHistory\""));
    }

    [Fact]
    public async Task A_lease_left_by_a_killed_process_is_taken_over_once_it_expires()
    {
        await using (var context = MigrationTestSupport.Context(DataSource))
        {
            await context.Database.MigrateAsync("20260101000001_Blogs");
        }

        using (var connection = Backend.OpenDirect())
        {
            using var stale = new Npgsql.NpgsqlCommand("INSERT INTO \"__EFMigrationsHistory_lease\" VALUES (1, 'killed/1/x', now() - interval '1 second')", connection);
            stale.ExecuteNonQuery();
        }

        await using (var context = MigrationTestSupport.Context(DataSource))
        {
            await context.Database.MigrateAsync();
            Assert.Equal(AllMigrations, await context.Database.GetAppliedMigrationsAsync());
        }

        Assert.Equal(0, MigrationTestSupport.Scalar(Backend, "SELECT count(*) FROM \"__EFMigrationsHistory_lease\""));
    }

    [Fact]
    public async Task The_wide_migration_emits_one_statement_per_command_that_DSQL_accepts_and_runs_on_the_emulator()
    {
        await using var context = MigrationTestSupport.Context(DataSource);
        var builder = new MigrationBuilder("Npgsql.EntityFrameworkCore.PostgreSQL");
        Wide.Operations(builder);
        Assert.Equal(20, builder.Operations.Count);
        var model = context.GetService<IMigrationsAssembly>().CreateMigration(typeof(Wide).GetTypeInfo(), "Npgsql.EntityFrameworkCore.PostgreSQL").TargetModel;
        var commands = context.GetService<IMigrationsSqlGenerator>().Generate(builder.Operations, context.GetService<IModelRuntimeInitializer>().Initialize(model!));

        foreach (var command in commands)
        {
            string sql = command.CommandText.Trim();
            output.WriteLine(sql);
            Assert.DoesNotContain(";", sql.TrimEnd(';'));                                       // one statement
            Assert.DoesNotMatch(@"(?i)^CREATE\s+(UNIQUE\s+)?INDEX\s+(?!ASYNC)", sql);           // indexes are ASYNC
            Assert.DoesNotMatch(@"(?i)\bserial\b|\bDO\s+\$|\bLOCK\b|\[\]", sql);                 // no serial, PL/pgSQL, LOCK, arrays
            Assert.DoesNotMatch(@"(?i)ADD\s+COLUMN[^;]*\b(NOT\s+NULL|DEFAULT|CHECK|UNIQUE|GENERATED|REFERENCES)\b", sql);
            Assert.DoesNotMatch(@"(?i)^ALTER\s+TABLE\s+(?!ASYNC)[^;]*VALIDATE\s+CONSTRAINT", sql);
            Assert.DoesNotMatch(@"(?i)ALTER\s+COLUMN[^;]*(TYPE|SET\s+NOT\s+NULL)", sql);
            if (sql.Contains("IDENTITY", StringComparison.Ordinal)) Assert.Matches(@"bigint GENERATED BY DEFAULT AS IDENTITY \(CACHE 65536\)", sql);
            if (System.Text.RegularExpressions.Regex.IsMatch(sql, @"(?i)ADD\s+CONSTRAINT[^;]*(FOREIGN\s+KEY|CHECK)")) Assert.EndsWith("NOT VALID;", sql);
            if (System.Text.RegularExpressions.Regex.IsMatch(sql, @"(?i)ADD\s+CONSTRAINT[^;]*UNIQUE")) Assert.Contains("USING INDEX", sql);
        }

        Assert.Contains(commands, c => c.CommandText.StartsWith("CREATE INDEX ASYNC", StringComparison.Ordinal));
        Assert.Contains(commands, c => c.CommandText.StartsWith("ALTER TABLE ASYNC", StringComparison.Ordinal));
        Assert.Contains(commands, c => c.CommandText.StartsWith(DsqlMigrationsSqlGenerator.RepeatMarker, StringComparison.Ordinal));

        // And the emulator (which refuses what DSQL refuses) runs all of it; the time of the 20-operation migration.
        await context.Database.MigrateAsync("20260101000002_Rating");
        var watch = Stopwatch.StartNew();
        await context.Database.MigrateAsync("20260101000003_Wide");
        watch.Stop();
        output.WriteLine($"20-operation migration ({commands.Count} statements) against the emulator: {watch.ElapsedMilliseconds} ms");
        Console.WriteLine($"efcore-migrate: 20-operation migration ({commands.Count} statements) against the emulator: {watch.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task Sequences_schemas_and_renames_run_on_the_emulator_through_the_executor()
    {
        MigrationTestSupport.Reset(Backend, "mig_seq_t", "mig_seq_u");
        using (var connection = Backend.OpenDirect())
        {
            using var drop = new Npgsql.NpgsqlCommand("DROP SCHEMA IF EXISTS mig_other CASCADE; DROP SEQUENCE IF EXISTS mig_seq; DROP SEQUENCE IF EXISTS mig_seq2", connection);
            drop.ExecuteNonQuery();
        }

        await using var context = MigrationTestSupport.Context(DataSource);
        var builder = new MigrationBuilder("Npgsql.EntityFrameworkCore.PostgreSQL");
        builder.CreateSequence<long>("mig_seq");
        builder.AlterSequence("mig_seq", incrementBy: 5);
        builder.RestartSequence("mig_seq", startValue: 100);
        builder.RenameSequence("mig_seq", newName: "mig_seq2");
        builder.EnsureSchema("mig_other");
        builder.CreateTable("mig_seq_t", t => new { Id = t.Column<long>("bigint", nullable: false) }, constraints: t => t.PrimaryKey("PK_mig_seq_t", x => x.Id));
        builder.RenameTable("mig_seq_t", newName: "mig_seq_u", newSchema: "mig_other");
        builder.AddColumn<string>("Label", "mig_seq_u", "text", schema: "mig_other", nullable: true, comment: "a label");
        var commands = context.GetService<IMigrationsSqlGenerator>().Generate(builder.Operations);
        await context.GetService<IMigrationCommandExecutor>().ExecuteNonQueryAsync(commands, context.GetService<Microsoft.EntityFrameworkCore.Storage.IRelationalConnection>());

        Assert.Equal(100, MigrationTestSupport.Scalar(Backend, "SELECT nextval('mig_seq2')"));
        Assert.Equal(5, MigrationTestSupport.Scalar(Backend, "SELECT increment_by FROM pg_sequences WHERE sequencename = 'mig_seq2'"));
        Assert.Equal(65536, MigrationTestSupport.Scalar(Backend, "SELECT cache_size FROM pg_sequences WHERE sequencename = 'mig_seq2'"));
        Assert.Equal(1, MigrationTestSupport.Scalar(Backend, "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'mig_other' AND table_name = 'mig_seq_u' AND column_name = 'Label'"));
        using (var connection = Backend.OpenDirect())
        {
            using var drop = new Npgsql.NpgsqlCommand("DROP SCHEMA mig_other CASCADE; DROP SEQUENCE mig_seq2", connection);
            drop.ExecuteNonQuery();
        }
    }

    [Fact]
    public async Task A_script_has_no_transactions_and_waits_for_each_job_with_psql_gset()
    {
        await using var context = MigrationTestSupport.Context(DataSource);
        string script = context.GetService<IMigrator>().GenerateScript(toMigration: "20260101000001_Blogs");
        output.WriteLine(script);
        Assert.DoesNotContain("START TRANSACTION", script);
        Assert.DoesNotContain("COMMIT", script);
        Assert.Matches(@"CREATE INDEX ASYNC ""IX_mig_posts_Title"" ON mig_posts \(""Title""\) \\gset\s+CALL sys\.wait_for_job\(:'job_id'\);", script);
        Assert.Contains("INSERT INTO \"__EFMigrationsHistory\"", script);
    }

    [Fact]
    public async Task Adding_a_not_null_column_with_a_default_backfills_existing_rows_in_batches()
    {
        await using (var context = MigrationTestSupport.Context(DataSource))
        {
            await context.Database.MigrateAsync("20260101000001_Blogs");
        }

        using (var connection = Backend.OpenDirect())
        {
            using var fill = new Npgsql.NpgsqlCommand("INSERT INTO mig_blogs (\"Id\", \"Name\") SELECT gen_random_uuid(), 'b' || g FROM generate_series(1, 2500) g", connection);
            fill.ExecuteNonQuery();
        }

        await using (var context = MigrationTestSupport.Context(DataSource))
        {
            await context.Database.MigrateAsync("20260101000002_Rating");
        }

        Assert.Equal(0, MigrationTestSupport.Scalar(Backend, "SELECT count(*) FROM mig_blogs WHERE \"Rating\" IS NULL"));
        Assert.Equal(1, MigrationTestSupport.Scalar(Backend, "SELECT count(*) FROM pg_constraint WHERE conname = 'CK_mig_blogs_Rating_NotNull' AND convalidated"));
    }
}
