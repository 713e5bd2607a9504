using System.Diagnostics;
using System.Globalization;
using Amazon.Runtime;
using Dsql.Connector;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Dsql.EntityFrameworkCore.Tests;

/// <summary>
/// The test assembly's entry point: with <c>migrate-until</c> it migrates MigBlogContext and hangs after the k-th DDL
/// command (so that a test can kill it with SIGKILL there); otherwise it does nothing.
/// </summary>
public static class MigrationChildProgram
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length != 4 || args[0] != "migrate-until") return 0;
        await using var dataSource = new DsqlDataSourceBuilder(args[1]).UseCredentials(new BasicAWSCredentials(TestTokens.AccessKeyId, TestTokens.Secret)).Build();
        var interceptor = new StepInterceptor { HangAfter = (int.Parse(args[2], CultureInfo.InvariantCulture), args[3]) };
        await using var context = MigrationTestSupport.Context(dataSource, interceptor, o => o.MigrationLease(TimeSpan.FromSeconds(2)));
        await context.Database.MigrateAsync();
        return 0;
    }
}

[Collection(BackendCollection.Name)]
public sealed class MigrationKillTests(BackendFixture backend) : MigrationEmulatorTest(backend)
{
    [Fact]
    public async Task A_migrating_process_killed_with_SIGKILL_after_a_step_committed_is_resumed_by_the_next_one()
    {
        string marker = Path.Combine(Path.GetTempPath(), "dsql-mig-" + Guid.NewGuid().ToString("N"));
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            ArgumentList = { typeof(MigrationChildProgram).Assembly.Location, "migrate-until", Harness.ConnectionString(), "9", marker },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var child = Process.Start(start)!;
        var output = child.StandardError.ReadToEndAsync();
        var deadline = Stopwatch.StartNew();
        while (!File.Exists(marker))
        {
            Assert.False(child.HasExited, "the child process ended before the marker: " + (child.HasExited ? await output : ""));
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), "no marker from the child process");
            await Task.Delay(50);
        }

        child.Kill(); // SIGKILL: no finally blocks, the lease stays taken until it expires
        await child.WaitForExitAsync();
        var childDdl = File.ReadAllLines(marker);
        File.Delete(marker);

        var resumed = new StepInterceptor();
        await using (var context = MigrationTestSupport.Context(DataSource, resumed))
        {
            await context.Database.MigrateAsync(); // waits for the killed process's lease to expire
            Assert.Equal(3, (await context.Database.GetAppliedMigrationsAsync()).Count());
        }

        var all = childDdl.Concat(resumed.Ddl.Select(s => s.ReplaceLineEndings(" "))).Where(s => !s.Contains("IF NOT EXISTS", StringComparison.Ordinal)).ToList();
        var twice = all.GroupBy(s => s).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(twice.Count <= 1, "ran twice: " + string.Join(" | ", twice)); // at most the step killed before its record
        Assert.Equal(9, childDdl.Length);
        Assert.Contains("Rating", MigrationTestSupport.Columns(Backend, "mig_blogs"));
        Assert.Equal(1, MigrationTestSupport.Scalar(Backend, "SELECT count(*) FROM mig_wide"));
        Assert.Equal(0, MigrationTestSupport.Scalar(Backend, "SELECT count(*) FROM \"__EFMigrationsHistory_steps\""));
    }
}
