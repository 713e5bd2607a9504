using Dsql.Emulator.Tests.Infrastructure;
using Dsql.Sync.Cdc;
using Npgsql;

namespace Dsql.Sync.Tests;

/// <summary><see cref="PostgresChangeSource.CheckAsync"/>: every obstacle named with its fix.</summary>
[Collection(LogicalSourceCollection.Name)]
public sealed class ChangeSourceCheckTests(LogicalSourceFixture fixture)
{
    [Fact]
    public async Task A_role_without_replication_and_a_table_without_key_are_refused_with_their_fixes()
    {
        string role = "reader_" + Guid.NewGuid().ToString("N")[..8];
        string db = await fixture.CreateDatabaseAsync($"""
            CREATE TABLE keyed (id int PRIMARY KEY);
            CREATE TABLE loose (v text);
            CREATE ROLE {role} LOGIN;
            GRANT SELECT ON keyed, loose TO {role};
            """);
        string asRole = new NpgsqlConnectionStringBuilder(db) { Username = role, Password = null }.ConnectionString;
        await using var source = LogicalSourceFixture.Source(asRole, "public.keyed", "public.loose", "public.missing");

        var error = await Assert.ThrowsAsync<ChangeSourceException>(() => source.CheckAsync());

        var replication = Assert.Single(error.Problems, p => p.Kind == ChangeSourceProblemKind.ReplicationPrivilege);
        Assert.Contains($"ALTER ROLE \"{role}\" REPLICATION", replication.Message);
        Assert.Contains($"GRANT rds_replication TO \"{role}\"", replication.Message);
        var identity = Assert.Single(error.Problems, p => p.Kind == ChangeSourceProblemKind.ReplicaIdentity);
        Assert.Contains("public.loose", identity.Message);
        Assert.Contains("REPLICA IDENTITY FULL", identity.Message);
        Assert.Contains(error.Problems, p => p.Kind == ChangeSourceProblemKind.Table && p.Message.Contains("public.missing", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Kind == ChangeSourceProblemKind.Privilege && p.Message.Contains("public.keyed", StringComparison.Ordinal));
        Assert.DoesNotContain(error.Problems, p => p.Kind == ChangeSourceProblemKind.WalLevel);
        Assert.Contains("ALTER ROLE", error.Message);

        // The superuser on the same database: only the table problems remain; SetUpAsync refuses the same way.
        await using var admin = LogicalSourceFixture.Source(db, "public.keyed", "public.loose");
        var refused = await Assert.ThrowsAsync<ChangeSourceException>(() => admin.SetUpAsync());
        Assert.Equal([ChangeSourceProblemKind.ReplicaIdentity], refused.Problems.Select(p => p.Kind));
    }
}

/// <summary>The emulator's backend cluster runs PostgreSQL's default <c>wal_level = replica</c>: the check says what to change.</summary>
[Collection(BackendCollection.Name)]
public sealed class ChangeSourceWalLevelTests(BackendFixture backend)
{
    [Fact]
    public async Task A_server_without_logical_wal_level_is_refused_naming_the_setting_and_the_RDS_parameter()
    {
        await using (var connection = backend.OpenDirect())
        await using (var show = new NpgsqlCommand("SHOW wal_level", connection))
            Assert.Equal("replica", await show.ExecuteScalarAsync());
        await using var source = LogicalSourceFixture.Source(backend.Cluster.ConnectionString, "public.anything");

        var error = await Assert.ThrowsAsync<ChangeSourceException>(() => source.CheckAsync());

        var walLevel = Assert.Single(error.Problems, p => p.Kind == ChangeSourceProblemKind.WalLevel);
        Assert.Contains("wal_level is 'replica'", walLevel.Message);
        Assert.Contains("ALTER SYSTEM SET wal_level = logical", walLevel.Message);
        Assert.Contains("restart", walLevel.Message);
        Assert.Contains("rds.logical_replication = 1", walLevel.Message);
    }
}
