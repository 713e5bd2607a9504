using System.Globalization;
using System.Text.RegularExpressions;
using Dsql.EntityFrameworkCore.Infrastructure;
using Dsql.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Migrations.Operations;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql.EntityFrameworkCore.PostgreSQL.Infrastructure.Internal;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata.Internal;
using Npgsql.EntityFrameworkCore.PostgreSQL.Migrations;

namespace Dsql.EntityFrameworkCore.Migrations;

/// <summary>
/// Npgsql's migrations SQL generator, narrowed to what DSQL runs: one DDL statement per command, indexes and
/// constraint validation as asynchronous jobs (<c>CREATE INDEX ASYNC</c>, <c>ALTER TABLE ASYNC ... VALIDATE</c>, which
/// <see cref="DsqlMigrationCommandExecutor"/> waits for), bigint identity columns with an explicit <c>CACHE</c>,
/// <c>ADD COLUMN</c> with a default or NOT NULL split into the steps DSQL accepts, and every operation DSQL lacks refused
/// here, before anything runs, with a <see cref="DsqlMigrationNotSupportedException"/>.
/// </summary>
internal sealed partial class DsqlMigrationsSqlGenerator : NpgsqlMigrationsSqlGenerator
{
    /// <summary>Rows per backfill statement: under DSQL's 3,000 rows modified per transaction.</summary>
    internal const int BackfillBatchRows = 1000;

    /// <summary>The first line of a command the executor repeats until it changes no row (a batched backfill).</summary>
    internal const string RepeatMarker = "/* dsql: repeat until no row changes */";

    private readonly long _identityCache;

    public DsqlMigrationsSqlGenerator(MigrationsSqlGeneratorDependencies dependencies, INpgsqlSingletonOptions npgsqlOptions, IDbContextOptions contextOptions)
        : base(dependencies, npgsqlOptions)
        => _identityCache = (contextOptions.FindExtension<DsqlOptionsExtension>()?.Options ?? new DsqlEfOptions()).IdentityCache;

    protected override void Generate(MigrationOperation operation, IModel? model, MigrationCommandListBuilder builder)
    {
        switch (operation)
        {
            case RestartSequenceOperation restart:
                // Npgsql writes START WITH and RESTART as two statements; one does both (RESTART takes the new start).
                builder.Append("ALTER SEQUENCE ").Append(Delimit(restart.Name, restart.Schema));
                if (restart.StartValue is { } start)
                {
                    builder.Append(" START WITH ").Append(start.ToString(CultureInfo.InvariantCulture));
                }

                builder.AppendLine(" RESTART;");
                EndStatement(builder);
                break;
            case RenameSequenceOperation rename when rename.NewName is not null && rename.NewName != rename.Name && rename.NewSchema is not null && rename.NewSchema != rename.Schema:
                // Npgsql writes RENAME TO and SET SCHEMA in one command: two statements, two steps here.
                base.Generate(new RenameSequenceOperation { Schema = rename.Schema, Name = rename.Name, NewName = rename.NewName }, model, builder);
                base.Generate(new RenameSequenceOperation { Schema = rename.Schema, Name = rename.NewName, NewSchema = rename.NewSchema }, model, builder);
                break;
            case DropSchemaOperation drop:
                throw Refuse(operation, "DROP SCHEMA", drop.Name, "drop the schema by hand once it is empty");
            case AddPrimaryKeyOperation add:
                throw Refuse(operation, "ALTER TABLE ... ADD PRIMARY KEY", Qualified(add.Schema, add.Table), "DSQL fixes a table's primary key when the table is created: create a new table with the key, copy the rows in batches, and drop the old table");
            case DropPrimaryKeyOperation drop:
                throw Refuse(operation, "ALTER TABLE ... DROP CONSTRAINT (primary key)", Qualified(drop.Schema, drop.Table), "DSQL fixes a table's primary key when the table is created: create a new table with the new key, copy the rows in batches, and drop the old table");
            default:
                base.Generate(operation, model, builder);
                break;
        }
    }

    // ---- tables -----------------------------------------------------------------------------------------

    protected override void Generate(CreateTableOperation operation, IModel? model, MigrationCommandListBuilder builder, bool terminate = true)
    {
        if (operation[NpgsqlAnnotationNames.UnloggedTable] is true)
        {
            throw Refuse(operation, "CREATE UNLOGGED TABLE", Qualified(operation.Schema, operation.Name), "remove IsUnlogged() from the entity type: DSQL tables are always logged");
        }

        foreach (var column in operation.Columns)
        {
            CheckColumn(operation, operation.Schema, operation.Name, column, addedToExistingTable: false);
        }

        // Npgsql writes COMMENT ON after CREATE TABLE in the same command; DSQL runs one statement per transaction.
        string? tableComment = operation.Comment;
        var columnComments = operation.Columns.Where(c => c.Comment is not null).Select(c => (c.Name, c.Comment!)).ToList();
        operation.Comment = null;
        foreach (var column in operation.Columns)
        {
            column.Comment = null;
        }

        base.Generate(operation, model, builder, terminate);
        if (!terminate)
        {
            return;
        }

        if (tableComment is not null)
        {
            Comment(builder, "TABLE " + Delimit(operation.Name, operation.Schema), tableComment);
        }

        foreach (var (name, comment) in columnComments)
        {
            Comment(builder, "COLUMN " + Delimit(operation.Name, operation.Schema) + "." + Delimit(name), comment);
        }
    }

    protected override void Generate(AlterTableOperation operation, IModel? model, MigrationCommandListBuilder builder)
    {
        if (operation[NpgsqlAnnotationNames.UnloggedTable] is true && operation.OldTable[NpgsqlAnnotationNames.UnloggedTable] is not true)
        {
            throw Refuse(operation, "ALTER TABLE ... SET UNLOGGED", Qualified(operation.Schema, operation.Name), "remove IsUnlogged() from the entity type");
        }

        if (operation.GetAnnotations().Any(a => a.Name.StartsWith(NpgsqlAnnotationNames.StorageParameterPrefix, StringComparison.Ordinal)))
        {
            throw Refuse(operation, "ALTER TABLE ... SET (storage parameters)", Qualified(operation.Schema, operation.Name), "remove the storage parameters from the entity type");
        }

        if (operation.Comment != operation.OldTable.Comment)
        {
            Comment(builder, "TABLE " + Delimit(operation.Name, operation.Schema), operation.Comment);
        }
    }

    protected override void Generate(RenameTableOperation operation, IModel? model, MigrationCommandListBuilder builder)
    {
        // Npgsql writes RENAME TO and SET SCHEMA in one command: two statements, two steps here.
        bool rename = operation.NewName is not null && operation.NewName != operation.Name;
        bool move = operation.NewSchema is not null && operation.NewSchema != operation.Schema;
        if (rename && move)
        {
            base.Generate(new RenameTableOperation { Schema = operation.Schema, Name = operation.Name, NewName = operation.NewName }, model, builder);
            base.Generate(new RenameTableOperation { Schema = operation.Schema, Name = operation.NewName!, NewSchema = operation.NewSchema }, model, builder);
            return;
        }

        base.Generate(operation, model, builder);
    }

    protected override void Generate(EnsureSchemaOperation operation, IModel? model, MigrationCommandListBuilder builder)
    {
        // Npgsql checks pg_namespace in a DO block (PL/pgSQL), which DSQL refuses.
        if (operation.Name == "public")
        {
            return;
        }

        builder.Append("CREATE SCHEMA IF NOT EXISTS ").Append(Delimit(operation.Name)).AppendLine(";");
        EndStatement(builder);
    }

    protected override void Generate(AlterDatabaseOperation operation, IModel? model, MigrationCommandListBuilder builder)
    {
        foreach (var annotation in operation.GetAnnotations())
        {
            if (annotation.Name.StartsWith(NpgsqlAnnotationNames.PostgresExtensionPrefix, StringComparison.Ordinal))
            {
                throw Refuse(operation, "CREATE EXTENSION", annotation.Name[NpgsqlAnnotationNames.PostgresExtensionPrefix.Length..], "remove HasPostgresExtension() (and the plug-in that adds it): DSQL has no extensions");
            }

            if (annotation.Name.StartsWith(NpgsqlAnnotationNames.EnumPrefix, StringComparison.Ordinal))
            {
                throw Refuse(operation, "CREATE TYPE ... AS ENUM", annotation.Name[NpgsqlAnnotationNames.EnumPrefix.Length..], "remove HasPostgresEnum()/MapEnum(): store the enum as integer (the default) or as text with HasConversion<string>()");
            }

            if (annotation.Name.StartsWith(NpgsqlAnnotationNames.RangePrefix, StringComparison.Ordinal))
            {
                throw Refuse(operation, "CREATE TYPE ... AS RANGE", annotation.Name[NpgsqlAnnotationNames.RangePrefix.Length..], "remove HasPostgresRange(): DSQL has no range types");
            }

            if (annotation.Name.StartsWith(NpgsqlAnnotationNames.CollationDefinitionPrefix, StringComparison.Ordinal))
            {
                throw Refuse(operation, "CREATE COLLATION", annotation.Name[NpgsqlAnnotationNames.CollationDefinitionPrefix.Length..], "remove HasCollation(): DSQL has the C collation only");
            }
        }

        if (operation.Collation != operation.OldDatabase.Collation)
        {
            throw Refuse(operation, "ALTER DATABASE ... COLLATION", operation.Collation, "remove UseCollation(): DSQL has the C collation only");
        }
    }

    // ---- columns ----------------------------------------------------------------------------------------

    protected override void Generate(AddColumnOperation operation, IModel? model, MigrationCommandListBuilder builder, bool terminate = true)
    {
        string table = Delimit(operation.Table, operation.Schema);
        string column = Delimit(operation.Name);
        CheckColumn(operation, operation.Schema, operation.Table, operation, addedToExistingTable: true);
        if (!terminate)
        {
            throw Refuse(operation, "ALTER TABLE ... ADD COLUMN (inside another statement)", Qualified(operation.Schema, operation.Table, operation.Name), "add the column in its own operation");
        }

        bool hasDefault = operation.DefaultValue is not null || operation.DefaultValueSql is not null;
        bool notNull = !operation.IsNullable;

        // 1. The column, nullable and without default: the only ADD COLUMN form DSQL accepts.
        var plain = new AddColumnOperation
        {
            Schema = operation.Schema,
            Table = operation.Table,
            Name = operation.Name,
            ClrType = operation.ClrType,
            ColumnType = operation.ColumnType,
            IsUnicode = operation.IsUnicode,
            IsFixedLength = operation.IsFixedLength,
            MaxLength = operation.MaxLength,
            Precision = operation.Precision,
            Scale = operation.Scale,
            Collation = operation.Collation,
            IsNullable = true,
        };
        base.Generate(plain, model, builder, terminate: true);

        if (operation.Comment is not null)
        {
            Comment(builder, "COLUMN " + table + "." + column, operation.Comment);
        }

        if (!hasDefault && !notNull)
        {
            return;
        }

        string columnType = operation.ColumnType ?? GetColumnType(operation.Schema, operation.Table, operation.Name, operation, model)!;
        if (hasDefault)
        {
            // 2. The default, for rows inserted from now on.
            builder.Append("ALTER TABLE ").Append(table).Append(" ALTER COLUMN ").Append(column).Append(" SET");
            DefaultValue(operation.DefaultValue, operation.DefaultValueSql, columnType, builder);
            builder.AppendLine(";");
            EndStatement(builder);

            // 3. The rows that exist, in batches under DSQL's row limit per transaction.
            var keyColumns = model?.GetRelationalModel().FindTable(operation.Table, operation.Schema)?.PrimaryKey?.Columns.Select(c => c.Name).ToArray();
            if (keyColumns is not { Length: > 0 })
            {
                throw Refuse(operation, "ALTER TABLE ... ADD COLUMN ... DEFAULT (backfill)", Qualified(operation.Schema, operation.Table, operation.Name), "the migration's target model must name the table's primary key (keep the migration's Designer file), or add the column as nullable without a default");
            }

            string keys = string.Join(", ", keyColumns.Select(c => Delimit(c)));
            string tuple = keyColumns.Length == 1 ? keys : "(" + keys + ")";
            builder.AppendLine(RepeatMarker)
                .Append("UPDATE ").Append(table).Append(" SET ").Append(column).Append(" =");
            DefaultValueExpression(operation.DefaultValue, operation.DefaultValueSql, columnType, builder);
            builder.Append(" WHERE ").Append(tuple).Append(" IN (SELECT ").Append(keys).Append(" FROM ").Append(table)
                .Append(" WHERE ").Append(column).Append(" IS NULL LIMIT ").Append(BackfillBatchRows.ToString(CultureInfo.InvariantCulture)).AppendLine(");");
            EndStatement(builder);
        }

        if (notNull)
        {
            // 4. NOT NULL as a validated check constraint: DSQL refuses ALTER COLUMN ... SET NOT NULL.
            string constraint = Delimit(NotNullConstraintName(operation.Table, operation.Name));
            builder.Append("ALTER TABLE ").Append(table).Append(" ADD CONSTRAINT ").Append(constraint)
                .Append(" CHECK (").Append(column).AppendLine(" IS NOT NULL) NOT VALID;");
            EndStatement(builder);
            Validate(builder, table, constraint);
        }
    }

    /// <summary>The name of the check constraint that stands for NOT NULL on a column added to an existing table.</summary>
    internal static string NotNullConstraintName(string table, string column)
    {
        string name = "CK_" + table + "_" + column + "_NotNull";
        return name.Length <= 63 ? name : name[..63];
    }

    protected override void Generate(AlterColumnOperation operation, IModel? model, MigrationCommandListBuilder builder)
    {
        var old = operation.OldColumn;
        string target = Qualified(operation.Schema, operation.Table, operation.Name);
        string table = Delimit(operation.Table, operation.Schema);
        string column = Delimit(operation.Name);
        string? newType = operation.ColumnType ?? GetColumnType(operation.Schema, operation.Table, operation.Name, operation, model);
        string? oldType = old.ColumnType ?? GetColumnType(operation.Schema, operation.Table, operation.Name, old, model);
        if (!string.Equals(newType, oldType, StringComparison.OrdinalIgnoreCase))
        {
            throw Refuse(operation, "ALTER COLUMN ... TYPE", target, $"DSQL cannot change a column's type ({oldType} to {newType}): add a new column, copy the values in batches, and drop the old one");
        }

        if (operation.ComputedColumnSql != old.ComputedColumnSql || operation.IsStored != old.IsStored)
        {
            throw Refuse(operation, "ALTER COLUMN (computed column)", target, "drop the column and add it again");
        }

        if (operation[NpgsqlAnnotationNames.ValueGenerationStrategy] as NpgsqlValueGenerationStrategy? != old[NpgsqlAnnotationNames.ValueGenerationStrategy] as NpgsqlValueGenerationStrategy?
            || operation[NpgsqlAnnotationNames.IdentityOptions] as string != old[NpgsqlAnnotationNames.IdentityOptions] as string)
        {
            throw Refuse(operation, "ALTER COLUMN ... IDENTITY", target, "DSQL cannot add, change or drop identity on an existing column: create the table with the identity column it needs");
        }

        if (operation.Collation != old.Collation)
        {
            throw Refuse(operation, "ALTER COLUMN ... COLLATE", target, "DSQL has the C collation only: remove UseCollation()");
        }

        if (!operation.IsNullable && old.IsNullable)
        {
            throw Refuse(operation, "ALTER COLUMN ... SET NOT NULL", target, "add a check constraint instead (ToTable(t => t.HasCheckConstraint(\"CK_name\", \"\\\"Column\\\" IS NOT NULL\")) is added NOT VALID and validated), or make the property nullable");
        }

        if (operation.IsNullable && !old.IsNullable)
        {
            builder.Append("ALTER TABLE ").Append(table).Append(" ALTER COLUMN ").Append(column).AppendLine(" DROP NOT NULL;");
            EndStatement(builder);
        }

        if (!Equals(operation.DefaultValue, old.DefaultValue) || operation.DefaultValueSql != old.DefaultValueSql)
        {
            builder.Append("ALTER TABLE ").Append(table).Append(" ALTER COLUMN ").Append(column);
            if (operation.DefaultValue is null && operation.DefaultValueSql is null)
            {
                builder.AppendLine(" DROP DEFAULT;");
            }
            else
            {
                builder.Append(" SET");
                DefaultValue(operation.DefaultValue, operation.DefaultValueSql, newType, builder);
                builder.AppendLine(";");
            }

            EndStatement(builder);
        }

        if (operation.Comment != old.Comment)
        {
            Comment(builder, "COLUMN " + table + "." + column, operation.Comment);
        }
    }

    protected override void IdentityDefinition(ColumnOperation operation, MigrationCommandListBuilder builder)
    {
        if (operation[NpgsqlAnnotationNames.ValueGenerationStrategy] is not NpgsqlValueGenerationStrategy strategy || !strategy.IsIdentity())
        {
            return;
        }

        builder.Append(strategy == NpgsqlValueGenerationStrategy.IdentityByDefaultColumn ? " GENERATED BY DEFAULT AS IDENTITY (" : " GENERATED ALWAYS AS IDENTITY (");
        long cache = _identityCache;
        if (operation[NpgsqlAnnotationNames.IdentityOptions] is string serialized)
        {
            var data = IdentitySequenceOptionsData.Deserialize(serialized);
            if (data.StartValue is { } start)
            {
                builder.Append("START WITH ").Append(start.ToString(CultureInfo.InvariantCulture)).Append(" ");
            }

            if (data.IncrementBy != 1)
            {
                builder.Append("INCREMENT BY ").Append(data.IncrementBy.ToString(CultureInfo.InvariantCulture)).Append(" ");
            }

            if (data.MinValue is { } min)
            {
                builder.Append("MINVALUE ").Append(min.ToString(CultureInfo.InvariantCulture)).Append(" ");
            }

            if (data.MaxValue is { } max)
            {
                builder.Append("MAXVALUE ").Append(max.ToString(CultureInfo.InvariantCulture)).Append(" ");
            }

            if (data.IsCyclic)
            {
                builder.Append("CYCLE ");
            }

            if (data.NumbersToCache != 1)
            {
                // An explicit HasIdentityOptions(numbersToCache: n) wins over the context's default, if DSQL accepts it.
                cache = data.NumbersToCache;
            }
        }

        if (!DsqlEfOptions.IsAcceptedCache(cache))
        {
            throw new DsqlMigrationNotSupportedException(
                $"Identity column '{operation.Name}' of '{Qualified(operation.Schema, operation.Table)}' caches {cache} values; DSQL accepts CACHE 1 or CACHE >= 65536. Set HasIdentityOptions(numbersToCache: ...) or UseDsql(o => o.IdentityCache(...)) to one of those.");
        }

        builder.Append("CACHE ").Append(cache.ToString(CultureInfo.InvariantCulture)).Append(")");
    }

    protected override void SequenceOptions(string? schema, string name, SequenceOperation operation, IModel? model, MigrationCommandListBuilder builder, bool forAlter)
    {
        base.SequenceOptions(schema, name, operation, model, builder, forAlter);
        builder.Append(" CACHE ").Append(_identityCache.ToString(CultureInfo.InvariantCulture));
    }

    protected override void Generate(CreateSequenceOperation operation, IModel? model, MigrationCommandListBuilder builder)
    {
        if (operation.ClrType != typeof(long))
        {
            throw Refuse(operation, "CREATE SEQUENCE AS " + operation.ClrType.Name, Qualified(operation.Schema, operation.Name), "DSQL sequences are bigint: declare HasSequence<long>(...)");
        }

        base.Generate(operation, model, builder);
    }

    // ---- indexes and constraints ------------------------------------------------------------------------

    protected override void Generate(CreateIndexOperation operation, IModel? model, MigrationCommandListBuilder builder, bool terminate = true)
    {
        string target = Qualified(operation.Schema, operation.Table, operation.Name);
        if (operation[NpgsqlAnnotationNames.IndexMethod] is string method && method.Length > 0 && !method.Equals("btree", StringComparison.OrdinalIgnoreCase))
        {
            throw Refuse(operation, "CREATE INDEX ... USING " + method, target, "remove HasMethod(): DSQL indexes are B-trees");
        }

        if (operation[NpgsqlAnnotationNames.TsVectorConfig] is string)
        {
            throw Refuse(operation, "CREATE INDEX (tsvector)", target, "remove IsTsVectorExpressionIndex(): DSQL has no text search");
        }

        if (operation.Columns.Length > DsqlEfOptions.MaxIndexColumns)
        {
            throw Refuse(operation, "CREATE INDEX", target, $"DSQL indexes take at most {DsqlEfOptions.MaxIndexColumns} columns; this one has {operation.Columns.Length}");
        }

        if (!terminate)
        {
            throw Refuse(operation, "CREATE INDEX (inside another statement)", target, "create the index in its own operation");
        }

        // Npgsql's text (columns, sort orders, INCLUDE, WHERE), with ASYNC after INDEX and without CONCURRENTLY.
        operation.RemoveAnnotation(NpgsqlAnnotationNames.CreatedConcurrently);
        string text = Single(b => base.Generate(operation, model, b, terminate: true));
        text = IndexKeyword().Replace(text, "$1 ASYNC ", 1).TrimEnd();
        builder.Append(text.EndsWith(';') ? text[..^1] : text);
        EndAsyncJob(builder);
    }

    protected override void Generate(AddForeignKeyOperation operation, IModel? model, MigrationCommandListBuilder builder, bool terminate = true)
    {
        if (!terminate)
        {
            base.Generate(operation, model, builder, terminate);
            return;
        }

        AddNotValidThenValidate(builder, operation.Schema, operation.Table, operation.Name, b => ForeignKeyConstraint(operation, model, b));
    }

    protected override void Generate(AddCheckConstraintOperation operation, IModel? model, MigrationCommandListBuilder builder)
    {
        AddNotValidThenValidate(builder, operation.Schema, operation.Table, operation.Name, b => CheckConstraint(operation, model, b));
    }

    /// <summary>A constraint on an existing table, the way DSQL adds one: <c>ADD ... NOT VALID</c>, then validated by an asynchronous job.</summary>
    private void AddNotValidThenValidate(MigrationCommandListBuilder builder, string? schema, string tableName, string name, Action<MigrationCommandListBuilder> constraint)
    {
        string table = Delimit(tableName, schema);
        builder.Append("ALTER TABLE ").Append(table).Append(" ADD ");
        constraint(builder);
        builder.AppendLine(" NOT VALID;");
        EndStatement(builder);
        Validate(builder, table, Delimit(name));
    }

    protected override void Generate(AddUniqueConstraintOperation operation, IModel? model, MigrationCommandListBuilder builder)
    {
        // DSQL adds UNIQUE to an existing table only over a unique index built first.
        string table = Delimit(operation.Table, operation.Schema);
        builder.Append("CREATE UNIQUE INDEX ASYNC ").Append(Delimit(operation.Name)).Append(" ON ").Append(table)
            .Append(" (").Append(ColumnList(operation.Columns)).Append(")");
        EndAsyncJob(builder);
        builder.Append("ALTER TABLE ").Append(table).Append(" ADD CONSTRAINT ").Append(Delimit(operation.Name))
            .Append(" UNIQUE USING INDEX ").Append(Delimit(operation.Name)).AppendLine(";");
        EndStatement(builder);
    }

    // ---- data -------------------------------------------------------------------------------------------

    public override IReadOnlyList<MigrationCommand> Generate(IReadOnlyList<MigrationOperation> operations, IModel? model = null, MigrationsSqlGenerationOptions options = MigrationsSqlGenerationOptions.Default)
    {
        ArgumentNullException.ThrowIfNull(operations);
        foreach (var operation in operations)
        {
            if (operation is InsertDataOperation insert && insert.Values.GetLength(0) >= DsqlEfOptions.MaxRowsPerTransaction)
            {
                throw Refuse(operation, "INSERT (seed data)", Qualified(insert.Schema, insert.Table), $"DSQL modifies at most {DsqlEfOptions.MaxRowsPerTransaction} rows per transaction: split HasData() over several migrations or load the rows with a bulk copy");
            }
        }

        return base.Generate(operations, model, options);
    }

    // ---- helpers ----------------------------------------------------------------------------------------

    private void CheckColumn(MigrationOperation operation, string? schema, string table, ColumnOperation column, bool addedToExistingTable)
    {
        string target = Qualified(schema, table, column.Name);
        string type = (column.ColumnType ?? GetColumnType(schema, table, column.Name, column, null) ?? string.Empty).Trim();
        if (DsqlStoreTypes.Refusal(type) is { } why)
        {
            throw Refuse(operation, addedToExistingTable ? "ALTER TABLE ... ADD COLUMN" : "CREATE TABLE", target, why);
        }

        var strategy = column[NpgsqlAnnotationNames.ValueGenerationStrategy] as NpgsqlValueGenerationStrategy?;
        if (strategy == NpgsqlValueGenerationStrategy.SerialColumn)
        {
            throw Refuse(operation, "serial column", target, "DSQL has no serial types: use UseIdentityByDefaultColumn() on a long property, or a Guid key");
        }

        if (strategy == NpgsqlValueGenerationStrategy.SequenceHiLo)
        {
            throw Refuse(operation, "HiLo sequence", target, "use UseIdentityByDefaultColumn() on a long property, or a Guid key");
        }

        if (strategy.IsIdentity())
        {
            if (addedToExistingTable)
            {
                throw Refuse(operation, "ALTER TABLE ... ADD COLUMN ... GENERATED AS IDENTITY", target, "DSQL adds identity columns only with CREATE TABLE: create a new table with the column, copy the rows in batches, and drop the old table");
            }

            if (!DsqlStoreTypes.IsBigint(type))
            {
                throw Refuse(operation, "identity column of type " + type, target, "DSQL identity columns are bigint: make the property a long (or use a Guid key)");
            }
        }

        if (column.ComputedColumnSql is not null && addedToExistingTable)
        {
            throw Refuse(operation, "ALTER TABLE ... ADD COLUMN ... GENERATED ALWAYS AS (...)", target, "create the table with the computed column, or compute the value in the application");
        }
    }

    /// <summary>The default of a column as the right side of an assignment (a literal, or the SQL given).</summary>
    private void DefaultValueExpression(object? defaultValue, string? defaultValueSql, string columnType, MigrationCommandListBuilder builder)
    {
        // DefaultValue writes " DEFAULT <expression>"; the expression is what follows the keyword.
        string text = Single(b =>
        {
            DefaultValue(defaultValue, defaultValueSql, columnType, b);
            b.EndCommand();
        });
        const string keyword = " DEFAULT ";
        builder.Append(" ").Append(text.StartsWith(keyword, StringComparison.Ordinal) ? text[keyword.Length..] : text);
    }

    private void Validate(MigrationCommandListBuilder builder, string table, string constraint)
    {
        builder.Append("ALTER TABLE ASYNC ").Append(table).Append(" VALIDATE CONSTRAINT ").Append(constraint);
        EndAsyncJob(builder);
    }

    /// <summary>
    /// Ends a statement DSQL runs as an asynchronous job. Executed, the job id it returns is waited for by
    /// <see cref="DsqlDdlRunner"/>; in a script (for psql) the id is kept with <c>\gset</c> and waited for by the next statement.
    /// </summary>
    private void EndAsyncJob(MigrationCommandListBuilder builder)
    {
        if (Options.HasFlag(MigrationsSqlGenerationOptions.Script))
        {
            builder.AppendLine(" \\gset");
            EndStatement(builder, suppressTransaction: true);
            builder.AppendLine("CALL sys.wait_for_job(:'job_id');");
            EndStatement(builder, suppressTransaction: true);
            return;
        }

        builder.AppendLine(";");
        EndStatement(builder, suppressTransaction: true);
    }

    private void Comment(MigrationCommandListBuilder builder, string what, string? comment)
    {
        builder.Append("COMMENT ON ").Append(what).Append(" IS ")
            .Append(comment is null ? "NULL" : Dependencies.TypeMappingSource.GetMapping(typeof(string)).GenerateSqlLiteral(comment)).AppendLine(";");
        EndStatement(builder);
    }

    /// <summary>The text of the one command <paramref name="write"/> produces on a builder of its own.</summary>
    private string Single(Action<MigrationCommandListBuilder> write)
    {
        var scratch = new MigrationCommandListBuilder(Dependencies);
        write(scratch);
        var commands = scratch.GetCommandList();
        return commands.Count == 1 ? commands[0].CommandText : string.Concat(commands.Select(c => c.CommandText));
    }

    private string Delimit(string name, string? schema = null) => Dependencies.SqlGenerationHelper.DelimitIdentifier(name, schema);

    private static string Qualified(string? schema, string? table, string? column = null)
        => string.Join('.', new[] { schema, table, column }.Where(p => !string.IsNullOrEmpty(p)));

    private static DsqlMigrationNotSupportedException Refuse(MigrationOperation operation, string form, string? target, string advice)
        => new($"DSQL does not support {form}{(target is null ? "" : " on '" + target + "'")} (migration operation {operation.GetType().Name}): {advice}.");

    [GeneratedRegex(@"^(\s*CREATE\s+(?:UNIQUE\s+)?INDEX)\s+", RegexOptions.IgnoreCase)]
    private static partial Regex IndexKeyword();
}
