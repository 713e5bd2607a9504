using System.Net;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.EntityFrameworkCore.Metadata;
using Dsql.EntityFrameworkCore.Migrations;
using Dsql.Emulator.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Migrations.Operations;

namespace Dsql.EntityFrameworkCore.Tests;

public enum Mood { Happy, Sad }

public sealed class Odd
{
    public long Id { get; set; }
    public List<int>? Numbers { get; set; }
    public IPAddress? Address { get; set; }
    public Mood Mood { get; set; }
    public int Small { get; set; }
}

public sealed class IntKey
{
    public int Id { get; set; }
}

public sealed class ModelContext(DbContextOptions options, Action<ModelBuilder> build) : DbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder) => build(modelBuilder);
}

public sealed class ModelCacheKeyFactory : IModelCacheKeyFactory
{
    public object Create(DbContext context, bool designTime) => (context.GetType(), designTime, Guid.NewGuid());
}

[Collection(BackendCollection.Name)]
public sealed class ModelValidationTests(BackendFixture backend) : IAsyncLifetime
{
    private ConnectorHarness _harness = null!;
    private Dsql.Connector.DsqlDataSource _dataSource = null!;

    public async Task InitializeAsync()
    {
        _harness = await ConnectorHarness.StartAsync(backend);
        _dataSource = _harness.Build();
    }

    public async Task DisposeAsync()
    {
        await _dataSource.DisposeAsync();
        await _harness.DisposeAsync();
    }

    private ModelContext Context(Action<ModelBuilder> build)
        => new(new DbContextOptionsBuilder().UseDsql(_dataSource).ReplaceService<IModelCacheKeyFactory, ModelCacheKeyFactory>().Options, build);

    private string Refusal(Action<ModelBuilder> build)
    {
        using var context = Context(build);
        return Assert.Throws<DsqlModelNotSupportedException>(() => context.Model).Message;
    }

    [Fact]
    public void A_primitive_collection_is_refused_naming_the_entity_the_property_and_the_choices()
    {
        string message = Refusal(m => m.Entity<Odd>(e => { e.Ignore(x => x.Address); }));
        Assert.Contains("'Odd' property 'Numbers'", message);
        Assert.Contains("integer[]", message);
        Assert.Contains("jsonb", message);
        Assert.Contains("ToJson()", message);
    }

    [Fact]
    public void A_primitive_collection_converted_to_jsonb_is_accepted()
    {
        using var context = Context(m => m.Entity<Odd>(e =>
        {
            e.Ignore(x => x.Address);
            e.Property(x => x.Numbers).HasConversion(
                v => System.Text.Json.JsonSerializer.Serialize(v, (System.Text.Json.JsonSerializerOptions?)null),
                v => System.Text.Json.JsonSerializer.Deserialize<List<int>>(v, (System.Text.Json.JsonSerializerOptions?)null))
                .HasColumnType("jsonb");
        }));
        Assert.Equal("jsonb", context.Model.FindEntityType(typeof(Odd))!.FindProperty(nameof(Odd.Numbers))!.GetColumnType());
    }

    [Fact]
    public void A_store_type_outside_DSQL_s_list_is_refused()
    {
        Assert.Contains("'Odd' property 'Address'", Refusal(m => m.Entity<Odd>(e => e.Ignore(x => x.Numbers))));
        string money = Refusal(m => m.Entity<Odd>(e => { e.Ignore(x => x.Numbers); e.Ignore(x => x.Address); e.Property(x => x.Small).HasColumnType("money"); }));
        Assert.Contains("'Odd' property 'Small'", money);
        Assert.Contains("money", money);
        Assert.Contains("xml", Refusal(m => m.Entity<Odd>(e => { e.Ignore(x => x.Numbers); e.Ignore(x => x.Address); e.Property(x => x.Small).HasColumnType("xml"); })));
    }

    [Fact]
    public void An_int_identity_key_is_refused_and_a_CLR_enum_is_stored_as_integer()
    {
        string message = Refusal(m => m.Entity<IntKey>());
        Assert.Contains("'IntKey' property 'Id'", message);
        Assert.Contains("bigint", message);

        using var context = Context(m => m.Entity<Odd>(e => { e.Ignore(x => x.Numbers); e.Ignore(x => x.Address); }));
        Assert.Equal("integer", context.Model.FindEntityType(typeof(Odd))!.FindProperty(nameof(Odd.Mood))!.GetColumnType());
    }

    [Fact]
    public void Operations_DSQL_lacks_are_refused_at_generation_naming_the_operation_and_the_column()
    {
        using var context = Context(m => m.Entity<Odd>(e => { e.Ignore(x => x.Numbers); e.Ignore(x => x.Address); }));
        var generator = context.GetService<IMigrationsSqlGenerator>();
        string Refused(MigrationOperation operation) => Assert.Throws<DsqlMigrationNotSupportedException>(() => generator.Generate([operation])).Message;

        string type = Refused(new AlterColumnOperation { Table = "t", Name = "c", ClrType = typeof(long), ColumnType = "bigint", OldColumn = new AddColumnOperation { Name = "c", Table = "t",  ClrType = typeof(int), ColumnType = "integer" } });
        Assert.Contains("ALTER COLUMN ... TYPE", type);
        Assert.Contains("'t.c'", type);
        Assert.Contains("add a new column", type);

        Assert.Contains("SET NOT NULL", Refused(new AlterColumnOperation { Table = "t", Name = "c", ClrType = typeof(int), ColumnType = "integer", IsNullable = false, OldColumn = new AddColumnOperation { Name = "c", Table = "t",  ClrType = typeof(int), ColumnType = "integer", IsNullable = true } }));
        Assert.Contains("ADD PRIMARY KEY", Refused(new AddPrimaryKeyOperation { Table = "t", Name = "PK_t", Columns = ["c"] }));
        Assert.Contains("DROP SCHEMA", Refused(new DropSchemaOperation { Name = "s" }));
        Assert.Contains("AS Int32", Refused(new CreateSequenceOperation { Name = "s", ClrType = typeof(int) }));
        Assert.Equal("ALTER SEQUENCE s INCREMENT BY 2 NO MINVALUE NO MAXVALUE NO CYCLE CACHE 65536;", generator.Generate([new AlterSequenceOperation { Name = "s", IncrementBy = 2 }]).Single().CommandText.Trim());
        Assert.Equal("ALTER SEQUENCE s START WITH 10 RESTART;", generator.Generate([new RestartSequenceOperation { Name = "s", StartValue = 10 }]).Single().CommandText.Trim());
        Assert.Equal(2, generator.Generate([new RenameTableOperation { Name = "t", NewName = "u", NewSchema = "other" }]).Count);
        var identity = new AddColumnOperation { Table = "t", Name = "n", ClrType = typeof(long), ColumnType = "bigint" };
        identity.AddAnnotation("Npgsql:ValueGenerationStrategy", Npgsql.EntityFrameworkCore.PostgreSQL.Metadata.NpgsqlValueGenerationStrategy.IdentityByDefaultColumn);
        Assert.Contains("ADD COLUMN ... GENERATED AS IDENTITY", Refused(identity));
        Assert.Contains("array columns", Refused(new AddColumnOperation { Table = "t", Name = "a", ClrType = typeof(int[]), ColumnType = "integer[]", IsNullable = true }));
        var intIdentity = new CreateTableOperation { Name = "t2", Columns = { new AddColumnOperation { Table = "t2", Name = "id", ClrType = typeof(int), ColumnType = "integer" } } };
        intIdentity.Columns[0].AddAnnotation("Npgsql:ValueGenerationStrategy", Npgsql.EntityFrameworkCore.PostgreSQL.Metadata.NpgsqlValueGenerationStrategy.IdentityByDefaultColumn);
        Assert.Contains("identity column of type integer", Refused(intIdentity));
        Assert.Contains("idempotent", Assert.Throws<DsqlMigrationNotSupportedException>(() => context.GetService<IHistoryRepository>().GetBeginIfNotExistsScript("20260101000001_Blogs")).Message);
    }
}
