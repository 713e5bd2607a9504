using System.Data;
using Dsql.Emulator.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace Dsql.EntityFrameworkCore.Tests;

/// <summary>Every transaction EF opens is one DSQL accepts: REPEATABLE READ, no savepoints; refused levels fail before anything is sent.</summary>
[Collection(BackendCollection.Name)]
public sealed class TransactionTests(BackendFixture backend, RuntimeEmulator emulator) : IClassFixture<RuntimeEmulator>
{
    [Fact]
    public async Task A_transaction_begun_with_no_level_runs_at_repeatable_read()
    {
        await using var harness = await emulator.StartAsync(backend);
        await using var context = harness.Context();

        await using (var transaction = await context.Database.BeginTransactionAsync())
        {
            Assert.Equal("repeatable read", await IsolationAsync(context));
            Assert.Equal(IsolationLevel.RepeatableRead, transaction.GetDbTransaction().IsolationLevel);
        }
        using (context.Database.BeginTransaction())
            Assert.Equal("repeatable read", await IsolationAsync(context));
        using (context.Database.BeginTransaction(IsolationLevel.Snapshot))
            Assert.Equal("repeatable read", await IsolationAsync(context));
    }

    [Fact]
    public async Task SaveChanges_own_transaction_is_accepted_where_Npgsqls_default_is_refused()
    {
        await using var harness = await emulator.StartAsync(backend);
        Customer Two(string name) => new() { Id = Guid.NewGuid(), Name = name, Orders = [new Order { Id = Guid.NewGuid(), Total = 2m }] };

        // Npgsql's provider alone begins SaveChanges' transaction at READ COMMITTED, which DSQL (and the emulator) refuse.
        await using (var plain = harness.PlainNpgsqlContext())
        {
            plain.Customers.Add(Two("plain"));
            var refused = await Assert.ThrowsAsync<DbUpdateException>(() => plain.SaveChangesAsync());
            var postgres = Assert.IsType<PostgresException>(refused.InnerException);
            Assert.Equal("0A000", postgres.SqlState);
            Assert.Contains("READ COMMITTED", postgres.MessageText, StringComparison.Ordinal);
            // (The statements Npgsql sent after the refused BEGIN ran on their own, outside any transaction.)
        }
        await using (var context = harness.Context())
        {
            context.Customers.Add(Two("dsql"));
            Assert.Equal(2, await context.SaveChangesAsync());
        }
        Assert.Equal(1, await harness.ScalarAsync($"SELECT count(*) FROM {harness.Schema}.orders o JOIN {harness.Schema}.customers c ON c.id = o.customer_id WHERE c.name = 'dsql'"));
    }

    [Theory]
    [InlineData(IsolationLevel.Serializable)]
    [InlineData(IsolationLevel.ReadCommitted)]
    [InlineData(IsolationLevel.ReadUncommitted)]
    [InlineData(IsolationLevel.Chaos)]
    public async Task A_level_DSQL_refuses_fails_before_anything_is_sent(IsolationLevel level)
    {
        await using var harness = await emulator.StartAsync(backend);
        await using var context = harness.Context();

        var ex = await Assert.ThrowsAsync<NotSupportedException>(() => context.Database.BeginTransactionAsync(level));
        Assert.Contains($"IsolationLevel.{level}", ex.Message, StringComparison.Ordinal);
        Assert.Contains("RepeatableRead", ex.Message, StringComparison.Ordinal);
        Assert.Throws<NotSupportedException>(() => context.Database.BeginTransaction(level));

        // Nothing reached the server: no transaction is open and the connection works.
        Assert.Null(context.Database.CurrentTransaction);
        Assert.Equal(0, await context.Counters.CountAsync());
    }

    [Fact]
    public async Task SaveChanges_in_a_user_transaction_creates_no_savepoint()
    {
        await using var harness = await emulator.StartAsync(backend);
        await using var context = harness.Context();
        // A user transaction runs inside the execution strategy (EF Core's rule for retrying strategies).
        await context.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            await using var transaction = await context.Database.BeginTransactionAsync();
            Assert.False(transaction.SupportsSavepoints);

            // EF Core creates a savepoint before SaveChanges in a user transaction when the transaction supports them;
            // DSQL refuses SAVEPOINT (and aborts the transaction), so two SaveChanges in a row prove none was sent.
            context.Counters.Add(new Counter { Id = 1, Value = 1 });
            await context.SaveChangesAsync();
            context.Counters.Add(new Counter { Id = 2, Value = 2 });
            await context.SaveChangesAsync();
            await transaction.CommitAsync();
        });

        Assert.Equal(3, await harness.ScalarAsync($"SELECT sum(value) FROM {harness.Schema}.counters"));
    }

    [Fact]
    public async Task An_explicit_savepoint_fails_clearly_and_leaves_the_transaction_usable()
    {
        await using var harness = await emulator.StartAsync(backend);
        await using var context = harness.Context();
        await context.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            await using var transaction = await context.Database.BeginTransactionAsync();
            context.Counters.Add(new Counter { Id = 1, Value = 5 });
            await context.SaveChangesAsync();

            var create = await Assert.ThrowsAsync<NotSupportedException>(() => transaction.CreateSavepointAsync("before"));
            Assert.Contains("savepoints", create.Message, StringComparison.Ordinal);
            Assert.Throws<NotSupportedException>(() => transaction.CreateSavepoint("before"));
            await Assert.ThrowsAsync<NotSupportedException>(() => transaction.RollbackToSavepointAsync("before"));
            Assert.Throws<NotSupportedException>(() => transaction.RollbackToSavepoint("before"));
            await Assert.ThrowsAsync<NotSupportedException>(() => transaction.ReleaseSavepointAsync("before"));
            Assert.Throws<NotSupportedException>(() => transaction.ReleaseSavepoint("before"));

            // Nothing was sent: the transaction is not aborted, and commits.
            context.Counters.Add(new Counter { Id = 2, Value = 6 });
            await context.SaveChangesAsync();
            await transaction.CommitAsync();
        });
        Assert.Equal(11, await harness.ScalarAsync($"SELECT sum(value) FROM {harness.Schema}.counters"));
    }

    /// <summary>The server's answer inside the context's current transaction.</summary>
    private static async Task<string> IsolationAsync(DbContext context)
    {
        await using var command = context.Database.GetDbConnection().CreateCommand();
        command.Transaction = context.Database.CurrentTransaction!.GetDbTransaction();
        command.CommandText = "SHOW transaction_isolation";
        return (string)(await command.ExecuteScalarAsync())!;
    }
}
