using Dsql.Connector;
using Dsql.Emulator.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Dsql.EntityFrameworkCore.Tests;

/// <summary>A real DbContext on UseDsql() through the emulator: CRUD, relationships, JSON, the open path, DSQL's typed errors.</summary>
[Collection(BackendCollection.Name)]
public sealed class RuntimeTests(BackendFixture backend, RuntimeEmulator emulator) : IClassFixture<RuntimeEmulator>
{
    [Fact]
    public async Task Crud_with_a_one_to_many_relationship_round_trips()
    {
        await using var harness = await emulator.StartAsync(backend);
        var customerId = Guid.NewGuid();
        await using (var context = harness.Context())
        {
            context.Customers.Add(new Customer { Id = customerId, Name = "Ada", Orders = [new Order { Id = Guid.NewGuid(), Total = 10.5m }, new Order { Id = Guid.NewGuid(), Total = 4m }] });
            Assert.Equal(3, await context.SaveChangesAsync()); // three statements: EF's own transaction, REPEATABLE READ
        }
        await using (var context = harness.Context())
        {
            var customer = await context.Customers.Include(c => c.Orders).SingleAsync(c => c.Id == customerId);
            Assert.Equal("Ada", customer.Name);
            Assert.Equal(14.5m, customer.Orders.Sum(o => o.Total));
            customer.Name = "Ada L.";
            context.Orders.Remove(customer.Orders.OrderBy(o => o.Total).First());
            Assert.Equal(2, await context.SaveChangesAsync());
        }
        await using (var context = harness.Context())
        {
            var customer = await context.Customers.Include(c => c.Orders).SingleAsync();
            Assert.Equal("Ada L.", customer.Name);
            Assert.Equal(10.5m, Assert.Single(customer.Orders).Total);
            Assert.Equal(1, await context.Orders.Where(o => o.CustomerId == customerId).ExecuteDeleteAsync());
        }
    }

    [Fact]
    public async Task A_foreign_key_violation_surfaces_as_23503()
    {
        await using var harness = await emulator.StartAsync(backend);
        await using var context = harness.Context();
        context.Orders.Add(new Order { Id = Guid.NewGuid(), CustomerId = Guid.NewGuid(), Total = 1m });

        var ex = await Assert.ThrowsAsync<DbUpdateException>(() => context.SaveChangesAsync());

        var postgres = Assert.IsType<PostgresException>(ex.InnerException);
        Assert.Equal(PostgresErrorCodes.ForeignKeyViolation, postgres.SqlState);
        Assert.Equal(0, await harness.ScalarAsync($"SELECT count(*) FROM {harness.Schema}.orders"));
    }

    [Fact]
    public async Task A_jsonb_column_is_written_and_read_back()
    {
        await using var harness = await emulator.StartAsync(backend);
        var id = Guid.NewGuid();
        await using (var context = harness.Context())
        {
            context.Notes.Add(new Note { Id = id, Text = "n", Details = """{"colour": "blue", "sizes": [1, 2]}""" });
            await context.SaveChangesAsync();
        }
        await using (var context = harness.Context())
        {
            var note = await context.Notes.SingleAsync(n => n.Id == id);
            Assert.Contains("\"colour\": \"blue\"", note.Details, StringComparison.Ordinal);
            // Stored as jsonb, not text: the server reads into it.
            string sql = $"SELECT details->>'colour' AS \"Value\" FROM {harness.Schema}.notes";
            string colour = await context.Database.SqlQueryRaw<string>(sql).SingleAsync();
            Assert.Equal("blue", colour);
        }
    }

    [Fact]
    public async Task A_context_opens_through_the_connectors_open_policy()
    {
        await using var harness = await emulator.StartAsync(backend);
        await using var fresh = harness.Connector.Build(); // no pooled connection yet: the next open is a physical connect
        harness.Connector.Emulator.Faults.RefuseNextConnections(1, "53400");
        await using var context = new ShopContext(new DbContextOptionsBuilder<ShopContext>().UseDsql(fresh).Options, harness.Schema);

        // Npgsql alone would fail with 53400; the connector's open retries the throttled connect.
        Assert.Equal(0, await context.Counters.CountAsync());
        Assert.Contains(harness.Connector.Logs.Lines, line => line.Contains("53400", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_synchronous_context_works_too()
    {
        await using var harness = await emulator.StartAsync(backend);
        using var context = harness.Context();
        context.Customers.Add(new Customer { Id = Guid.NewGuid(), Name = "Sync", Orders = [new Order { Id = Guid.NewGuid(), Total = 1m }] });
        Assert.Equal(2, context.SaveChanges());
        Assert.Equal(1, context.Orders.Count());
    }

    [Fact]
    public async Task An_unsupported_statement_reaches_the_caller_as_the_connectors_typed_error()
    {
        await using var harness = await emulator.StartAsync(backend);
        await using var context = harness.Context();

        string truncate = $"TRUNCATE {harness.Schema}.notes";
        var ex = await Assert.ThrowsAsync<DsqlUnsupportedFeatureException>(() => context.Database.ExecuteSqlRawAsync(truncate));

        Assert.Equal("0A000", Assert.IsType<PostgresException>(ex.InnerException).SqlState);
    }

    [Fact]
    public async Task A_crossed_row_limit_in_SaveChanges_is_the_inner_exception_of_DbUpdateException()
    {
        await using var harness = await emulator.StartAsync(backend);
        await using var context = harness.Context();
        context.Counters.AddRange(Enumerable.Range(1, DsqlQuotasRows + 1).Select(i => new Counter { Id = i }));

        var ex = await Assert.ThrowsAsync<DbUpdateException>(() => context.SaveChangesAsync());

        var limit = Assert.IsType<DsqlLimitExceededException>(ex.InnerException);
        Assert.Equal(DsqlLimit.RowsPerTransaction, limit.Limit);
        Assert.Equal(0, await harness.ScalarAsync($"SELECT count(*) FROM {harness.Schema}.counters"));
    }

    private const int DsqlQuotasRows = 3000;
}
