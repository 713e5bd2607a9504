using System.ComponentModel.DataAnnotations.Schema;
using Dsql.Connector;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.EntityFrameworkCore.Infrastructure;
using Dsql.Emulator.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace Dsql.EntityFrameworkCore.Tests;

public sealed class Customer
{
    public Guid Id { get; set; }
    public string Name { get; set; } = "";
    public List<Order> Orders { get; set; } = [];
}

public sealed class Order
{
    public Guid Id { get; set; }
    public Guid CustomerId { get; set; }
    public Customer? Customer { get; set; }
    public decimal Total { get; set; }
}

public sealed class Counter
{
    public int Id { get; set; }
    public long Value { get; set; }
}

public sealed class Note
{
    public Guid Id { get; set; }
    public string Text { get; set; } = "";

    [Column(TypeName = "jsonb")]
    public string? Details { get; set; }
}

/// <summary>The schema of a test, as a service for contexts built by dependency injection.</summary>
public sealed record RuntimeSchema(string Name);

/// <summary>The test model, in a schema of its own per test (tests share one PostgreSQL backend).</summary>
public sealed class ShopContext : DbContext
{
    public ShopContext(DbContextOptions options, string schema)
        : base(options) => Schema = schema;

    /// <summary>The constructor dependency injection uses.</summary>
    public ShopContext(DbContextOptions<ShopContext> options, RuntimeSchema schema)
        : base(options) => Schema = schema.Name;

    public string Schema { get; }

    public DbSet<Customer> Customers => Set<Customer>();
    public DbSet<Order> Orders => Set<Order>();
    public DbSet<Counter> Counters => Set<Counter>();
    public DbSet<Note> Notes => Set<Note>();

    protected override void OnConfiguring(DbContextOptionsBuilder optionsBuilder)
        => optionsBuilder.ReplaceService<IModelCacheKeyFactory, SchemaModelCacheKeyFactory>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.HasDefaultSchema(Schema);
        modelBuilder.Entity<Customer>().ToTable("customers");
        modelBuilder.Entity<Order>().ToTable("orders");
        modelBuilder.Entity<Counter>().ToTable("counters").Property(c => c.Id).ValueGeneratedNever();
        modelBuilder.Entity<Note>().ToTable("notes");
        foreach (var entity in modelBuilder.Model.GetEntityTypes())
            foreach (var property in entity.GetProperties())
                property.SetColumnName(property.Name.ToLowerInvariant() switch { "customerid" => "customer_id", var name => name });
    }

    private sealed class SchemaModelCacheKeyFactory : IModelCacheKeyFactory
    {
        public object Create(DbContext context, bool designTime) => (context.GetType(), ((ShopContext)context).Schema, designTime);
    }
}

/// <summary>
/// One emulator and one data source for a test class (a class fixture), started by its first test on the shared
/// PostgreSQL backend; each test gets a schema of its own with the test tables.
/// </summary>
public sealed class RuntimeEmulator : IAsyncLifetime
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private ConnectorHarness? _connector;
    private DsqlDataSource? _dataSource;

    internal async Task<RuntimeHarness> StartAsync(BackendFixture backend)
    {
        await _gate.WaitAsync();
        try
        {
            _connector ??= await ConnectorHarness.StartAsync(backend);
            _dataSource ??= _connector.Build();
        }
        finally
        {
            _gate.Release();
        }
        return await RuntimeHarness.CreateSchemaAsync(_connector, _dataSource);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_dataSource is not null) await _dataSource.DisposeAsync();
        if (_connector is not null) await _connector.DisposeAsync();
        _gate.Dispose();
    }
}

/// <summary>A test's view of its class's emulator: the data source, and a schema with the test tables, created with raw DDL (one statement per call).</summary>
internal sealed class RuntimeHarness : IAsyncDisposable
{
    private RuntimeHarness(ConnectorHarness connector, DsqlDataSource dataSource, string schema)
    {
        Connector = connector;
        DataSource = dataSource;
        Schema = schema;
    }

    public ConnectorHarness Connector { get; }
    public DsqlDataSource DataSource { get; }
    public string Schema { get; }

    internal static async Task<RuntimeHarness> CreateSchemaAsync(ConnectorHarness connector, DsqlDataSource dataSource)
    {
        string schema = EmulatorConnections.UniqueName("ef");
        var harness = new RuntimeHarness(connector, dataSource, schema);
        await using var context = harness.Context();
        string[] ddl =
        [
            $"CREATE SCHEMA {schema}",
            $"CREATE TABLE {schema}.customers (id uuid PRIMARY KEY, name text NOT NULL)",
            $"CREATE TABLE {schema}.orders (id uuid PRIMARY KEY, customer_id uuid NOT NULL REFERENCES {schema}.customers (id), total numeric(12,2) NOT NULL)",
            $"CREATE TABLE {schema}.counters (id int PRIMARY KEY, value bigint NOT NULL)",
            $"CREATE TABLE {schema}.notes (id uuid PRIMARY KEY, text text NOT NULL, details jsonb)",
        ];
        foreach (string statement in ddl) await context.Database.ExecuteSqlRawAsync(statement);
        return harness;
    }

    public ShopContext Context(Action<DsqlDbContextOptionsBuilder>? configure = null)
        => new(new DbContextOptionsBuilder<ShopContext>().UseDsql(DataSource, configure).Options, Schema);

    /// <summary>The same data source through Npgsql's provider alone (what a user without this package gets).</summary>
    public ShopContext PlainNpgsqlContext()
        => new(new DbContextOptionsBuilder<ShopContext>().UseNpgsql(DataSource).Options, Schema);

    public async Task<long> ScalarAsync(string sql)
    {
        await using var connection = await DataSource.OpenConnectionAsync();
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Disarms the faults a test may have left armed; the emulator and data source belong to the class.</summary>
    public ValueTask DisposeAsync()
    {
        Connector.Emulator.Faults.CutSessionsAtCommit(0);
        Connector.Emulator.Faults.RefuseNextConnections(0);
        return ValueTask.CompletedTask;
    }
}
