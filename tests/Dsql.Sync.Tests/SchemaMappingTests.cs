using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator.Tests.Infrastructure;
using Dsql.Sync.Schema;
using Npgsql;
using NpgsqlTypes;

namespace Dsql.Sync.Tests;

/// <summary>
/// Schema and type mapping against a real PostgreSQL source (a database of its own on the backend cluster) and the
/// emulator as the target: every type family, serial and identity, domains, constraints, indexes, refusals, patterns.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class SchemaMappingTests(BackendFixture backend)
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static Source? s_source;

    private sealed record Source(string ConnectionString, string Shop, string Sales, string Types);

    /// <summary>The source database, created once for the class.</summary>
    private async Task<Source> SourceAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (s_source is not null) return s_source;
            string database = EmulatorConnections.UniqueName("schema_src");
            using (var admin = backend.OpenDirect())
            using (var create = new NpgsqlCommand($"CREATE DATABASE {database}", admin))
            {
                await create.ExecuteNonQueryAsync();
            }

            var builder = new NpgsqlConnectionStringBuilder(backend.Cluster.ConnectionString) { Database = database, Pooling = false };
            string shop = EmulatorConnections.UniqueName("shop"), sales = EmulatorConnections.UniqueName("sales"), types = EmulatorConnections.UniqueName("types");
            await using var connection = new NpgsqlConnection(builder.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                $$"""
                CREATE SCHEMA {{shop}}; CREATE SCHEMA {{sales}}; CREATE SCHEMA {{types}};
                CREATE DOMAIN {{types}}.short_code AS varchar(8) NOT NULL CHECK (VALUE <> '');
                SET search_path = {{shop}};
                CREATE TYPE mood AS ENUM ('happy', 'sad');
                CREATE TYPE pair AS (a integer, b text);
                CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0);
                CREATE DOMAIN tag_list AS text[];
                CREATE TABLE customers (
                    id serial PRIMARY KEY,
                    email varchar(120) NOT NULL,
                    code char(4),
                    name text DEFAULT 'anon',
                    ref {{types}}.short_code DEFAULT 'R1',
                    CONSTRAINT customers_email_key UNIQUE (email));
                CREATE TABLE everything (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    small_id smallserial,
                    customer_id integer REFERENCES customers (id),
                    amount numeric(12,2) CONSTRAINT everything_amount_check CHECK (amount >= 0),
                    ratio numeric,
                    doc json, docb jsonb, tags text[], ids integer[], feeling mood, p pair,
                    qty positive_int, tagd tag_list,
                    ip inet, net cidr, mac macaddr, pt point, bx box, period int4range, price money, x xml,
                    flags bit(4), vflags varbit, tsv tsvector,
                    at timestamptz(3) DEFAULT now(), ti time, iv interval, u uuid, b bytea, ok boolean, f4 real, f8 double precision);
                CREATE INDEX everything_at_idx ON everything (at DESC) WHERE ok;
                CREATE INDEX everything_lower_idx ON everything (lower(x::text));
                CREATE INDEX everything_tsv_idx ON everything USING gin (tsv);
                CREATE TABLE weird (id integer PRIMARY KEY, lsn pg_lsn, n numeric);
                CREATE TABLE wide (id integer PRIMARY KEY, {{string.Join(", ", Enumerable.Range(1, 255).Select(i => $"c{i} integer"))}});
                CREATE TABLE wide_key (a1 int, a2 int, a3 int, a4 int, a5 int, a6 int, a7 int, a8 int, a9 int, PRIMARY KEY (a1, a2, a3, a4, a5, a6, a7, a8, a9));
                CREATE TABLE {{sales}}.orders (id bigserial PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers (id), total numeric(10,2),
                    customer_email varchar(120) REFERENCES customers (email));
                CREATE TABLE {{sales}}.order_2024 (id integer PRIMARY KEY);
                CREATE TABLE {{sales}}.order_2025 (id integer PRIMARY KEY);
                CREATE TABLE {{sales}}.notes (id integer PRIMARY KEY, body varchar COLLATE "ucs_basic");
                INSERT INTO customers (email, code) VALUES ('a@example.com', 'AB12'), ('b@example.com', NULL);
                INSERT INTO everything (customer_id, amount, ratio, doc, docb, tags, ids, feeling, p, qty, tagd, ip, net, mac, pt, bx,
                                        period, price, x, flags, vflags, tsv, ti, iv, u, b, ok, f4, f8)
                VALUES (1, 12.50, 3.14159, '{"a": 1}', '{"b": [1, 2]}', ARRAY['x', 'y'], ARRAY[1, 2, 3], 'sad', ROW(1, 'one'), 7, ARRAY['t'],
                        '10.0.0.1', '10.0.0.0/8', '08:00:2b:01:02:03', '(1,2)', '((0,0),(1,1))', '[1,5)', 12.34, '<a>1</a>', B'1010', B'101',
                        'fat cat', '12:30', '1 day', gen_random_uuid(), '\x0102', true, 1.5, 2.5),
                       (2, 0, NULL, NULL, NULL, NULL, NULL, 'happy', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                        NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
                INSERT INTO {{sales}}.orders (customer_id, total, customer_email) VALUES (1, 10.00, 'a@example.com'), (2, 20.00, NULL), (1, 30.00, 'a@example.com');
                """, connection);
            await command.ExecuteNonQueryAsync();
            return s_source = new Source(builder.ConnectionString, shop, sales, types);
        }
        finally
        {
            Gate.Release();
        }
    }

    private static async Task<NpgsqlConnection> OpenAsync(Source source)
    {
        var connection = new NpgsqlConnection(source.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    private static SchemaMappingOptions FullOptions(Source source)
    {
        var options = new SchemaMappingOptions();
        options.Schemas.Clear();
        options.Schemas.Add(source.Shop);
        options.Schemas.Add(source.Sales);
        options.Tables.Add("customers");
        options.Tables.Add("everything");
        options.Tables.Add(source.Sales + ".*");
        options.TypeRules[TypeFamily.UnconstrainedNumeric] = TypeRule.Numeric;
        return options;
    }

    [Fact]
    public async Task The_mapped_ddl_is_accepted_by_the_emulator_and_the_loaded_data_passes_every_constraint()
    {
        var source = await SourceAsync();
        await using var sourceConnection = await OpenAsync(source);
        var mapping = await SchemaMapper.MapAsync(sourceConnection, FullOptions(source));

        Assert.Empty(mapping.Refusals);
        Assert.Equal(6, mapping.Tables.Count);
        var everything = mapping.Tables.Single(t => t.Name == "everything");
        var types = everything.Columns.ToDictionary(c => c.Name, c => c.TargetType);
        Assert.Equal("bigint", types["id"]);
        Assert.Equal("bigint", types["small_id"]);
        Assert.Equal("numeric(12,2)", types["amount"]);
        Assert.Equal("numeric(38,10)", types["ratio"]);
        Assert.Equal("jsonb", types["doc"]);
        Assert.Equal("jsonb", types["docb"]);
        Assert.Equal("jsonb", types["tags"]);
        Assert.Equal("jsonb", types["ids"]);
        Assert.Equal("text", types["feeling"]);
        Assert.Equal("jsonb", types["p"]);
        Assert.Equal($"\"{source.Shop}\".\"positive_int\"", types["qty"]);
        Assert.Equal("jsonb", types["tagd"]);
        foreach (string column in new[] { "ip", "net", "mac", "pt", "bx", "period", "x", "flags", "vflags", "tsv" })
            Assert.Equal("text", types[column]);
        Assert.Equal("numeric(20,2)", types["price"]);
        Assert.Equal("timestamp(3) with time zone", types["at"]);
        Assert.Equal("to_jsonb(\"tags\")", everything.Columns.Single(c => c.Name == "tags").SourceExpression);
        Assert.True(everything.Columns.Single(c => c.Name == "id").IsIdentityAlways);
        var customers = mapping.Tables.Single(t => t.Name == "customers");
        Assert.Equal("character varying(120)", customers.Columns.Single(c => c.Name == "email").TargetType);
        Assert.Equal("character(4)", customers.Columns.Single(c => c.Name == "code").TargetType);
        Assert.Equal(["id"], customers.PrimaryKey);
        Assert.Equal($"\"{source.Types}\".\"short_code\"", customers.Columns.Single(c => c.Name == "ref").TargetType);
        var before = mapping.StepsOf(DdlPhase.BeforeLoad).Select(s => s.Sql).ToList();
        Assert.Contains($"CREATE SCHEMA IF NOT EXISTS \"{source.Types}\"", before); // the domain's schema holds no selected table
        Assert.True(before.FindLastIndex(s => s.StartsWith("CREATE SCHEMA")) < before.FindIndex(s => s.StartsWith("CREATE DOMAIN")));
        Assert.True(before.FindLastIndex(s => s.StartsWith("CREATE DOMAIN")) < before.FindIndex(s => s.StartsWith("CREATE TABLE")));

        string report = mapping.ToReport();
        Assert.Contains("GENERATED BY DEFAULT AS IDENTITY (START WITH 3 CACHE 65536)", report);
        Assert.Contains("widened from smallint to bigint", report);
        Assert.Contains("USING gin", report);
        Assert.Contains("CREATE INDEX ASYNC", report);
        Assert.Contains("CALL sys.wait_for_job", report);
        Assert.Contains("NOT VALID", report);
        Assert.Contains("ALTER TABLE ASYNC", report);
        Assert.Contains("UNIQUE USING INDEX", report);
        Assert.Contains("CREATE DOMAIN", report);
        Assert.Contains($"{source.Sales}.notes.body: COLLATE \"ucs_basic\" -> collation C (DSQL has collation C only", report);
        Assert.Contains("the domain and its checks are not created", report); // tag_list over text[]
        var after = mapping.StepsOf(DdlPhase.AfterLoad).Select(s => s.Sql).ToList();
        Assert.True(after.FindLastIndex(s => s.Contains("CREATE UNIQUE INDEX ASYNC") || s.Contains("UNIQUE USING INDEX"))
                    < after.FindIndex(s => s.Contains("FOREIGN KEY")), "unique constraints come before the foreign keys that may need them");
        Assert.True(after.FindLastIndex(s => s.Contains("FOREIGN KEY")) < after.FindIndex(s => s.Contains("CHECK")));

        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        await using var target = await dataSource.OpenConnectionAsync();

        // The source's own forms are refused by the emulator, as DSQL refuses them: the mapping is needed.
        foreach (string raw in new[]
                 {
                     "CREATE TABLE raw_serial (id serial PRIMARY KEY)",
                     "CREATE TABLE raw_array (id bigint PRIMARY KEY, tags text[])",
                     "CREATE TABLE raw_inet (id bigint PRIMARY KEY, ip inet)",
                     "CREATE TABLE raw_identity (id bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 100) PRIMARY KEY)",
                 })
        {
            await using var refused = new NpgsqlCommand(raw, target);
            await Assert.ThrowsAsync<PostgresException>(() => refused.ExecuteNonQueryAsync());
        }

        await DsqlSchemaApplier.ApplyAsync(target, mapping, DdlPhase.BeforeLoad);
        foreach (var table in mapping.Tables)
            await LoadAsync(sourceConnection, target, table);
        await DsqlSchemaApplier.ApplyAsync(target, mapping, DdlPhase.AfterLoad);

        Assert.Equal(2L, await ScalarAsync<long>(target, $"SELECT count(*) FROM \"{source.Shop}\".everything"));
        Assert.Equal(3L, await ScalarAsync<long>(target, $"SELECT count(*) FROM \"{source.Sales}\".orders"));
        Assert.Equal("[\"x\", \"y\"]", await ScalarAsync<string>(target, $"SELECT tags::text FROM \"{source.Shop}\".everything WHERE customer_id = 1"));
        Assert.Equal("10.0.0.1", await ScalarAsync<string>(target, $"SELECT ip FROM \"{source.Shop}\".everything WHERE customer_id = 1"));
        Assert.Equal(12.34m, await ScalarAsync<decimal>(target, $"SELECT price FROM \"{source.Shop}\".everything WHERE customer_id = 1"));
        Assert.Equal(3.14159m, await ScalarAsync<decimal>(target, $"SELECT ratio FROM \"{source.Shop}\".everything WHERE customer_id = 1"));
        // Identity continues after the source's keys.
        Assert.Equal(3L, await ScalarAsync<long>(target, $"INSERT INTO \"{source.Shop}\".customers (email) VALUES ('c@example.com') RETURNING id"));
        // Constraints added after the load hold: unique, foreign key, check, the enum's labels, the domain's check.
        await AssertRefusedAsync(target, "23505", $"INSERT INTO \"{source.Shop}\".customers (email) VALUES ('a@example.com')");
        await AssertRefusedAsync(target, "23503", $"INSERT INTO \"{source.Sales}\".orders (customer_id, total) VALUES (99, 1)");
        await AssertRefusedAsync(target, "23503", $"INSERT INTO \"{source.Sales}\".orders (customer_id, customer_email) VALUES (1, 'z@example.com')");
        await AssertRefusedAsync(target, "23514", $"INSERT INTO \"{source.Shop}\".everything (amount) VALUES (-1)");
        await AssertRefusedAsync(target, "23514", $"INSERT INTO \"{source.Shop}\".everything (feeling) VALUES ('angry')");
        await AssertRefusedAsync(target, "23514", $"INSERT INTO \"{source.Shop}\".everything (qty) VALUES (0)");
        await AssertRefusedAsync(target, "23514", $"INSERT INTO \"{source.Shop}\".customers (email, ref) VALUES ('d@example.com', '')");
        Assert.Equal("R1", await ScalarAsync<string>(target, $"SELECT ref FROM \"{source.Shop}\".customers WHERE email = 'c@example.com'"));
    }

    /// <summary>A minimal loader: reads each column through its conversion expression (as text) and casts it to the target type.</summary>
    private static async Task LoadAsync(NpgsqlConnection source, NpgsqlConnection target, TableMapping table)
    {
        var columns = table.LoadedColumns;
        var rows = new List<object?[]>();
        string select = "SELECT " + string.Join(", ", columns.Select(c => "(" + c.SourceExpression + ")::text")) + " FROM " + table.QualifiedName;
        await using (var read = new NpgsqlCommand(select, source))
        await using (var reader = await read.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                var row = new object?[columns.Count];
                for (int i = 0; i < row.Length; i++) row[i] = reader.IsDBNull(i) ? null : reader.GetString(i);
                rows.Add(row);
            }
        }

        bool overriding = columns.Any(c => c.IsIdentityAlways);
        string insert = $"INSERT INTO {table.QualifiedName} ({table.TargetColumnList}) {(overriding ? "OVERRIDING SYSTEM VALUE " : "")}VALUES ("
                        + string.Join(", ", columns.Select((c, i) => $"${i + 1}::{c.TargetType}")) + ")";
        foreach (var row in rows)
        {
            await using var write = new NpgsqlCommand(insert, target);
            foreach (var value in row) write.Parameters.Add(new NpgsqlParameter { Value = value ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            await write.ExecuteNonQueryAsync();
        }
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private static async Task AssertRefusedAsync(NpgsqlConnection connection, string sqlState, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        var error = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
        Assert.Equal(sqlState, error.SqlState);
    }

    [Fact]
    public async Task Types_without_a_rule_are_refused_naming_the_column_the_type_and_the_choices()
    {
        var source = await SourceAsync();
        await using var connection = await OpenAsync(source);
        var options = new SchemaMappingOptions();
        options.Tables.Add(source.Shop + ".weird");
        var mapping = await SchemaMapper.MapAsync(connection, options);

        Assert.Equal(2, mapping.Refusals.Count);
        var lsn = mapping.Refusals.Single(r => r.Subject == $"{source.Shop}.weird.lsn");
        Assert.Equal($"{source.Shop}.weird.lsn: type pg_lsn is refused (DSQL does not support this type). Choose a rule: SchemaMappingOptions.TypeRules[TypeFamily.Other] = TypeRule.Text, or leave the table out.", lsn.Message);
        var numeric = mapping.Refusals.Single(r => r.Subject == $"{source.Shop}.weird.n");
        Assert.Contains("numeric(18,6)", numeric.Message);
        Assert.Contains("TypeRules[TypeFamily.UnconstrainedNumeric] = TypeRule.Numeric or TypeRule.Text", numeric.Message);
        Assert.Contains("REFUSED " + lsn.Message, mapping.ToReport());

        var thrown = Assert.Throws<SchemaMappingException>(mapping.ThrowIfRefused);
        Assert.Contains(lsn.Message, thrown.Message);
        await Assert.ThrowsAsync<SchemaMappingException>(() => DsqlSchemaApplier.ApplyAsync(connection, mapping, DdlPhase.BeforeLoad));

        options.TypeRules[TypeFamily.Other] = TypeRule.Text;
        options.TypeRules[TypeFamily.UnconstrainedNumeric] = TypeRule.Text;
        options.Tables.Add(source.Shop + ".wide*");
        var limits = await SchemaMapper.MapAsync(connection, options);
        Assert.Equal([$"{source.Shop}.wide: 256 columns; DSQL allows at most 255 per table. Leave the table out (SchemaMappingOptions.Tables) or split it in the source.",
                      $"{source.Shop}.wide_key: the primary key wide_key_pkey has 9 columns; DSQL allows at most 8."],
            limits.Refusals.Select(r => r.Message).Order(StringComparer.Ordinal).ToArray());
        options.Tables.RemoveAt(options.Tables.Count - 1);
        var chosen = await SchemaMapper.MapAsync(connection, options);
        Assert.Empty(chosen.Refusals);
        Assert.Equal("\"lsn\"::text", chosen.Tables[0].Columns.Single(c => c.Name == "lsn").SourceExpression);
    }

    [Fact]
    public async Task Name_patterns_select_schemas_and_tables()
    {
        var source = await SourceAsync();
        await using var connection = await OpenAsync(source);

        async Task<string[]> Selected(string[] schemas, params string[] tables)
        {
            var options = new SchemaMappingOptions();
            options.Schemas.Clear();
            foreach (string s in schemas) options.Schemas.Add(s);
            foreach (string t in tables) options.Tables.Add(t);
            options.TypeRules[TypeFamily.UnconstrainedNumeric] = TypeRule.Text;
            options.TypeRules[TypeFamily.Other] = TypeRule.Text;
            var mapping = await SchemaMapper.MapAsync(connection, options);
            return mapping.Tables.Select(t => t.Schema + "." + t.Name).ToArray();
        }

        string sales = source.Sales, shop = source.Shop;
        Assert.Equal([$"{sales}.notes", $"{sales}.order_2024", $"{sales}.order_2025", $"{sales}.orders"], await Selected([sales]));
        Assert.Equal([$"{sales}.order_2024", $"{sales}.order_2025"], await Selected([], $"{sales}.order_*"));
        Assert.Equal([$"{sales}.order_2024", $"{sales}.order_2025"], await Selected([sales], "order_202?", "nothing"));
        var both = await Selected(["sales_*", "shop_*"], "notes", "weird");
        Assert.Contains($"{sales}.notes", both);
        Assert.Contains($"{shop}.weird", both);
        Assert.DoesNotContain($"{shop}.customers", both);
        Assert.Empty(await Selected(["no_such_schema"]));
    }

    [Fact]
    public async Task Uuid_keys_replace_serials_and_refuse_foreign_keys_that_would_break()
    {
        var source = await SourceAsync();
        await using var connection = await OpenAsync(source);
        var options = FullOptions(source);
        options.Serial = SerialMapping.Uuid;
        var mapping = await SchemaMapper.MapAsync(connection, options);

        var id = mapping.Tables.Single(t => t.Name == "customers").Columns.Single(c => c.Name == "id");
        Assert.Equal("uuid", id.TargetType);
        Assert.False(id.IsLoaded);
        Assert.Contains("uuid DEFAULT gen_random_uuid()", mapping.StepsOf(DdlPhase.BeforeLoad).Single(s => s.Description.EndsWith(".customers")).Sql);
        Assert.Contains(mapping.Refusals, r => r.Subject.EndsWith(".orders.orders_customer_id_fkey") && r.Message.Contains("SerialMapping.Identity"));
    }

    [Theory]
    [InlineData(100L)]
    [InlineData(65535L)]
    [InlineData(0L)]
    public void An_identity_cache_dsql_refuses_is_refused_before_mapping(long cache)
    {
        var options = new SchemaMappingOptions { IdentityCache = cache };
        var error = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Contains("1 or at least 65536", error.Message);
    }

    [Fact]
    public void A_rule_a_family_does_not_accept_is_refused()
    {
        var options = new SchemaMappingOptions();
        options.TypeRules[TypeFamily.Enum] = TypeRule.Numeric;
        var error = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Contains("TypeRules[Enum] is Numeric", error.Message);
    }
}
