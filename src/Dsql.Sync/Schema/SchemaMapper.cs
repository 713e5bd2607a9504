using Dsql.Connector;
using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;

namespace Dsql.Sync.Schema;

/// <summary>
/// Reads the selected tables of a PostgreSQL source through catalog queries and maps them to DDL that DSQL accepts,
/// recording every decision (see docs/loading.md, "Schema and type mapping").
/// </summary>
public static partial class SchemaMapper
{
    private static readonly HashSet<string> SupportedBuiltIns = new(StringComparer.Ordinal)
    {
        "int2", "int4", "int8", "float4", "float8", "numeric", "bpchar", "varchar", "text", "date", "time", "timetz",
        "timestamp", "timestamptz", "interval", "bool", "bytea", "uuid", "jsonb",
    };

    /// <summary>Maps the tables <paramref name="options"/> select from <paramref name="source"/> (an open connection).</summary>
    /// <exception cref="ArgumentException">The options are invalid (the message names the option).</exception>
    public static async Task<SchemaMapping> MapAsync(NpgsqlConnection source, SchemaMappingOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var tables = await PostgresCatalog.ReadAsync(source, new TableSelection(options.Schemas, options.Tables), cancellationToken).ConfigureAwait(false);
        return Map(tables, options);
    }

    internal static SchemaMapping Map(List<SourceTable> tables, SchemaMappingOptions options)
    {
        var work = new MappingWork(options);
        var selected = tables.Select(t => (t.Schema, t.Name)).ToHashSet();
        var mapped = new List<TableMapping>();
        foreach (var table in tables)
        {
            mapped.Add(work.MapTable(table));
        }

        // Schemas first: those of the tables and those of the domains they use (which may hold no selected table).
        var schemas = tables.Select(t => t.Schema).Concat(work.DomainSchemas).Distinct(StringComparer.Ordinal)
            .Where(s => s != "public").Order(StringComparer.Ordinal).ToList();
        work.Before.InsertRange(0, schemas.Select(schema =>
            new DdlStep(DdlPhase.BeforeLoad, "CREATE SCHEMA IF NOT EXISTS " + SqlNames.Quote(schema), false, "schema " + schema)));

        foreach (var table in tables)
        {
            work.AfterLoad(table, selected);
        }

        return new SchemaMapping(mapped, work.Decisions, work.Refusals, work.Before.Concat(work.After).ToList());
    }

    private sealed class MappingWork(SchemaMappingOptions options)
    {
        public List<MappingDecision> Decisions { get; } = new();
        public List<MappingRefusal> Refusals { get; } = new();
        public List<DdlStep> Before { get; } = new();
        // After the load: indexes first (unique constraints and foreign keys may need them), then unique
        // constraints over their indexes, then foreign keys (which may reference those constraints), then checks.
        private readonly List<DdlStep> _indexes = new();
        private readonly List<DdlStep> _uniques = new();
        private readonly List<DdlStep> _foreignKeys = new();
        private readonly List<DdlStep> _checks = new();

        public IEnumerable<DdlStep> After => _indexes.Concat(_uniques).Concat(_foreignKeys).Concat(_checks);
        private readonly HashSet<uint> _domainsCreated = new();
        private int _domainCount;

        public HashSet<string> DomainSchemas { get; } = new(StringComparer.Ordinal);
        private readonly Dictionary<(string, string), HashSet<string>> _convertedColumns = new();
        private readonly Dictionary<(string, string), HashSet<string>> _uuidKeys = new();
        private readonly List<(string Table, string Column, IReadOnlyList<string> Labels)> _enumChecks = new();

        public TableMapping MapTable(SourceTable table)
        {
            string subject = table.Schema + "." + table.Name;
            string qualified = SqlNames.Qualify(table.Schema, table.Name);
            if (table.Columns.Count > DsqlQuotas.MaxColumnsPerTable)
            {
                Refusals.Add(new MappingRefusal(subject, "table", $"{subject}: {table.Columns.Count} columns; DSQL allows at most {DsqlQuotas.MaxColumnsPerTable} per table. Leave the table out (SchemaMappingOptions.Tables) or split it in the source."));
            }

            if (table.IsPartitioned)
            {
                Decisions.Add(new MappingDecision(subject, "partitioned table", "one table", "DSQL has no partitions; the loader reads the parent, which returns every partition's rows"));
            }

            var converted = _convertedColumns[(table.Schema, table.Name)] = new HashSet<string>(StringComparer.Ordinal);
            var uuidKeys = _uuidKeys[(table.Schema, table.Name)] = new HashSet<string>(StringComparer.Ordinal);
            var columns = new List<ColumnMapping>();
            var definitions = new List<string>();
            foreach (var column in table.Columns)
            {
                var (mapping, definition) = MapColumn(table, column, converted, uuidKeys);
                columns.Add(mapping);
                definitions.Add(definition);
            }

            var primaryKey = table.Constraints.FirstOrDefault(c => c.Kind == 'p');
            if (primaryKey is not null)
            {
                definitions.Add("CONSTRAINT " + SqlNames.Quote(primaryKey.Name) + " " + primaryKey.Definition);
                if (primaryKey.Columns.Count > DsqlQuotas.MaxColumnsPerIndex)
                {
                    Refusals.Add(new MappingRefusal(subject, "primary key", $"{subject}: the primary key {primaryKey.Name} has {primaryKey.Columns.Count} columns; DSQL allows at most {DsqlQuotas.MaxColumnsPerIndex}."));
                }
            }
            else
            {
                Decisions.Add(new MappingDecision(subject, "no primary key", "no primary key", "DSQL keys the rows itself; an upsert or a resumed load cannot tell rows apart"));
            }

            Before.Add(new DdlStep(DdlPhase.BeforeLoad, "CREATE TABLE " + qualified + " (\n    " + string.Join(",\n    ", definitions) + "\n)", false, "table " + subject));
            return new TableMapping(table.Schema, table.Name, columns, primaryKey?.Columns ?? []);
        }

        private (ColumnMapping, string) MapColumn(SourceTable table, SourceColumn column, HashSet<string> converted, HashSet<string> uuidKeys)
        {
            string subject = $"{table.Schema}.{table.Name}.{column.Name}";
            string quoted = SqlNames.Quote(column.Name);
            bool serial = column.Sequence is not null && column.Identity == '\0' && column.Default is not null
                && column.Default.StartsWith("nextval(", StringComparison.Ordinal);
            bool notNull = column.NotNull;

            if (serial || column.Identity != '\0')
            {
                string kind = serial ? SerialName(column.FormattedType) : column.FormattedType + " identity";
                if (options.Serial == SerialMapping.Uuid)
                {
                    uuidKeys.Add(column.Name);
                    Decisions.Add(new MappingDecision(subject, kind, "uuid DEFAULT gen_random_uuid()", "SerialMapping.Uuid: DSQL generates new keys; the loader leaves the column out"));
                    return (new ColumnMapping(column.Name, column.FormattedType, "uuid", quoted, false, false),
                        quoted + " uuid DEFAULT gen_random_uuid() NOT NULL");
                }

                long start = column.SequenceNext ?? 1;
                string always = column.Identity == 'a' ? "ALWAYS" : "BY DEFAULT";
                string reason = $"DSQL has no serial types and identity columns must be bigint with CACHE 1 or >= 65536; START WITH {start.ToString(CultureInfo.InvariantCulture)} continues the source sequence";
                if (column.FormattedType != "bigint")
                {
                    reason += $"; widened from {column.FormattedType} to bigint";
                }

                if (column.Identity == 'a')
                {
                    reason += "; GENERATED ALWAYS: an INSERT carrying the source value needs OVERRIDING SYSTEM VALUE";
                }

                string target = $"bigint GENERATED {always} AS IDENTITY (START WITH {start.ToString(CultureInfo.InvariantCulture)} CACHE {options.IdentityCache.ToString(CultureInfo.InvariantCulture)})";
                Decisions.Add(new MappingDecision(subject, kind, target, reason));
                return (new ColumnMapping(column.Name, column.FormattedType, "bigint", quoted, true, column.Identity == 'a'), quoted + " " + target + " NOT NULL");
            }

            var (targetType, expression, keepDefault) = MapType(subject, column.Name, column.FormattedType, column.Type, table);
            if (expression != quoted)
            {
                converted.Add(column.Name);
            }

            string definition = quoted + " " + targetType;
            string? columnDefault = column.Default;
            if (columnDefault is not null && columnDefault.StartsWith("nextval(", StringComparison.Ordinal))
            {
                Decisions.Add(new MappingDecision(subject, "DEFAULT " + columnDefault, "no default", "a sequence the column does not own: DSQL sequences need CACHE 1 or >= 65536; create one and set the default by hand"));
                columnDefault = null;
            }
            else if (columnDefault is not null && !keepDefault)
            {
                Decisions.Add(new MappingDecision(subject, "DEFAULT " + columnDefault, "no default", "the column's type changed, so the default expression may not fit it"));
                columnDefault = null;
            }

            if (column.Collation is not null)
            {
                Decisions.Add(new MappingDecision(subject, $"COLLATE \"{column.Collation}\"", "collation C", "DSQL has collation C only: comparisons and ORDER BY follow byte order"));
            }

            if (column.Generated)
            {
                Decisions.Add(new MappingDecision(subject, "generated column", "plain column", "the generated values are copied as they are"));
            }

            if (columnDefault is not null)
            {
                definition += " DEFAULT " + columnDefault;
            }

            if (notNull)
            {
                definition += " NOT NULL";
            }

            return (new ColumnMapping(column.Name, column.FormattedType, targetType, expression, true, false), definition);
        }

        private static string SerialName(string type) => type switch
        {
            "smallint" => "smallserial",
            "integer" => "serial",
            _ => "bigserial",
        };

        /// <summary>The DSQL type, the loader's expression, and whether the column default still applies.</summary>
        private (string Type, string Expression, bool KeepDefault) MapType(string subject, string columnName, string formatted, SourceType type, SourceTable table)
        {
            string quoted = SqlNames.Quote(columnName);
            if (type.Kind == 'd')
            {
                var baseMapping = MapType(subject, columnName, type.BaseType!.Formatted, type.BaseType, table);
                if (baseMapping.Expression != quoted)
                {
                    Decisions.Add(new MappingDecision(subject, $"domain {type.Schema}.{type.Name} over {type.BaseType.Formatted}", baseMapping.Type, "the domain's base type is mapped, so the domain and its checks are not created"));
                    return baseMapping;
                }

                string domain = SqlNames.Qualify(type.Schema, type.Name);
                if (_domainsCreated.Add(type.Oid))
                {
                    string sql = "CREATE DOMAIN " + domain + " AS " + type.BaseType.Formatted
                        + (type.DomainDefault is null ? "" : " DEFAULT " + type.DomainDefault)
                        + (type.DomainNotNull ? " NOT NULL" : "")
                        + string.Concat(type.DomainChecks.Select(c => " " + c));
                    // Domains go before every table (schemas are put in front of both at the end).
                    Before.Insert(_domainCount++, new DdlStep(DdlPhase.BeforeLoad, sql, false, $"domain {type.Schema}.{type.Name}"));
                    DomainSchemas.Add(type.Schema);
                    Decisions.Add(new MappingDecision($"{type.Schema}.{type.Name}", "domain over " + type.BaseType.Formatted, "CREATE DOMAIN", "DSQL supports CREATE DOMAIN with its CHECK constraints"));
                }

                return (domain, quoted, true);
            }

            if (type.Schema == "pg_catalog" && SupportedBuiltIns.Contains(type.Name))
            {
                if (type.Name == "numeric" && type.Modifier < 0)
                {
                    return ByRule(subject, columnName, formatted, TypeFamily.UnconstrainedNumeric);
                }

                return (formatted, quoted, true);
            }

            var family = type.Category == 'A' ? TypeFamily.Array
                : type.Kind == 'e' ? TypeFamily.Enum
                : type.Kind == 'c' ? TypeFamily.Composite
                : type.Kind is 'r' or 'm' ? TypeFamily.Range
                : type.Category == 'G' ? TypeFamily.Geometric
                : type.Category == 'I' || type.Name is "macaddr" or "macaddr8" ? TypeFamily.Network
                : type.Category == 'V' ? TypeFamily.BitString
                : type.Name == "json" ? TypeFamily.Json
                : type.Name == "money" ? TypeFamily.Money
                : type.Name == "xml" ? TypeFamily.Xml
                : type.Name is "tsvector" or "tsquery" ? TypeFamily.TextSearch
                : TypeFamily.Other;
            // inet's cast to text always adds the mask (10.0.0.1/32); abbrev() gives its output form (10.0.0.1).
            string? textForm = type.Name == "inet" ? "abbrev(" + quoted + ")" : null;
            var result = ByRule(subject, columnName, formatted, family, textForm);
            if (family == TypeFamily.Enum && options.RuleFor(family) == TypeRule.Text)
            {
                _enumChecks.Add((table.Schema + "." + table.Name, columnName, type.EnumLabels));
            }

            return result;
        }

        private (string Type, string Expression, bool KeepDefault) ByRule(string subject, string columnName, string formatted, TypeFamily family, string? textForm = null)
        {
            string quoted = SqlNames.Quote(columnName);
            var rule = options.RuleFor(family);
            // The target type is shared with the change applier (columns added at the source); the expression is the loader's.
            string targetType = TypeNameMapping.TargetType(family, rule, options) ?? "";
            (string Type, string Expression) target = rule switch
            {
                TypeRule.Text => (targetType, textForm ?? quoted + "::text"),
                TypeRule.Jsonb => (targetType, family == TypeFamily.Json ? quoted + "::jsonb" : "to_jsonb(" + quoted + ")"),
                TypeRule.Numeric when family == TypeFamily.Money => (targetType, quoted + "::numeric"),
                TypeRule.Numeric => (targetType, quoted),
                _ => ("", ""),
            };

            if (rule == TypeRule.Refuse)
            {
                string choices = string.Join(" or ", SchemaMappingOptions.AllowedRules(family).Where(r => r != TypeRule.Refuse).Select(r => "TypeRule." + r));
                string why = family == TypeFamily.UnconstrainedNumeric
                    ? "DSQL gives numeric without precision numeric(18,6) and would round the values"
                    : "DSQL does not support this type";
                Refusals.Add(new MappingRefusal(subject, formatted,
                    $"{subject}: type {formatted} is refused ({why}). Choose a rule: SchemaMappingOptions.TypeRules[TypeFamily.{family}] = {choices}, or leave the table out."));
                return (formatted, quoted, false);
            }

            string reason = family switch
            {
                TypeFamily.Json => "TypeFamily.Json rule: JSON is stored as jsonb",
                TypeFamily.Money => "TypeFamily.Money rule: money read as numeric (2 fraction digits)",
                TypeFamily.UnconstrainedNumeric => "TypeFamily.UnconstrainedNumeric rule: values with more fraction digits are rounded",
                _ => $"TypeFamily.{family} rule: {formatted} is not a DSQL column type",
            };
            Decisions.Add(new MappingDecision(subject, formatted, target.Type, reason + "; the loader reads " + target.Expression));
            return (target.Type, target.Expression, family == TypeFamily.UnconstrainedNumeric);
        }

        public void AfterLoad(SourceTable table, HashSet<(string, string)> selected)
        {
            string subject = table.Schema + "." + table.Name;
            string qualified = SqlNames.Qualify(table.Schema, table.Name);
            var converted = _convertedColumns[(table.Schema, table.Name)];

            foreach (var index in table.Indexes)
            {
                string name = table.Schema + "." + index.Name;
                if (index.AccessMethod != "btree")
                {
                    Decisions.Add(new MappingDecision(name, "index USING " + index.AccessMethod, "skipped", "DSQL builds btree indexes only"));
                    continue;
                }

                if (index.KeyColumns > DsqlQuotas.MaxColumnsPerIndex)
                {
                    Decisions.Add(new MappingDecision(name, $"index on {index.KeyColumns} columns", "skipped", $"DSQL allows at most {DsqlQuotas.MaxColumnsPerIndex} columns per index"));
                    continue;
                }

                AddIndex(name, index.Definition, subject);
            }

            foreach (var constraint in table.Constraints)
            {
                string name = subject + "." + constraint.Name;
                switch (constraint.Kind)
                {
                    case 'u':
                        AddIndex(name, constraint.IndexDefinition!, subject);
                        _uniques.Add(new DdlStep(DdlPhase.AfterLoad, $"ALTER TABLE {qualified} ADD CONSTRAINT {SqlNames.Quote(constraint.Name)} UNIQUE USING INDEX {SqlNames.Quote(constraint.Name)}", false, "unique constraint " + name));
                        Decisions.Add(new MappingDecision(name, constraint.Definition, "CREATE UNIQUE INDEX ASYNC + ADD CONSTRAINT ... USING INDEX", "DSQL adds UNIQUE to an existing table only over an index built asynchronously"));
                        break;
                    case 'f':
                        if (!selected.Contains((constraint.ReferencedSchema!, constraint.ReferencedTable!)))
                        {
                            Decisions.Add(new MappingDecision(name, constraint.Definition, "skipped", $"references {constraint.ReferencedSchema}.{constraint.ReferencedTable}, which is not selected"));
                            break;
                        }

                        if (constraint.Columns.Any(_uuidKeys[(table.Schema, table.Name)].Contains)
                            || (_uuidKeys.TryGetValue((constraint.ReferencedSchema!, constraint.ReferencedTable!), out var keys) && keys.Count > 0))
                        {
                            Refusals.Add(new MappingRefusal(name, "foreign key", $"{name}: the foreign key involves a key that SerialMapping.Uuid replaces with new uuids, so the references would break. Use SerialMapping.Identity."));
                            break;
                        }

                        AddValidated(qualified, name, constraint, "foreign key");
                        break;
                    case 'c':
                        if (constraint.Columns.Any(converted.Contains))
                        {
                            Decisions.Add(new MappingDecision(name, constraint.Definition, "skipped", "it reads a column whose type was mapped, so the expression may not fit the new type"));
                            break;
                        }

                        AddValidated(qualified, name, constraint, "check");
                        break;
                    case 'x':
                        Decisions.Add(new MappingDecision(name, constraint.Definition, "skipped", "DSQL has no exclusion constraints"));
                        break;
                }
            }

            foreach (var check in _enumChecks.Where(e => e.Table == subject))
            {
                string constraintName = Truncate(table.Name + "_" + check.Column + "_enum_check");
                string definition = "CHECK (" + SqlNames.Quote(check.Column) + " IN (" + string.Join(", ", check.Labels.Select(SqlNames.Literal)) + "))";
                AddValidated(qualified, subject + "." + constraintName, new SourceConstraint(constraintName, 'c', definition, [check.Column], null, null, null), "enum labels check");
            }
        }

        private static string Truncate(string name) => name.Length <= 63 ? name : name[..63];

        private void AddIndex(string name, string definition, string subject)
        {
            // pg_get_indexdef: CREATE [UNIQUE] INDEX name ON [ONLY] schema.table USING btree (columns) [INCLUDE (...)] [WHERE ...]
            string sql = IndexHead().Replace(definition, m => m.Groups[1].Value + " ASYNC ", 1);
            sql = sql.Replace(" ON ONLY ", " ON ", StringComparison.Ordinal).Replace(" USING btree ", " ", StringComparison.Ordinal);
            _indexes.Add(new DdlStep(DdlPhase.AfterLoad, sql, true, "index " + name + " on " + subject));
        }

        private void AddValidated(string qualified, string name, SourceConstraint constraint, string what)
        {
            string constraintName = SqlNames.Quote(constraint.Name);
            var steps = constraint.Kind == 'f' ? _foreignKeys : _checks;
            steps.Add(new DdlStep(DdlPhase.AfterLoad, $"ALTER TABLE {qualified} ADD CONSTRAINT {constraintName} {constraint.Definition} NOT VALID", false, what + " " + name));
            steps.Add(new DdlStep(DdlPhase.AfterLoad, $"ALTER TABLE ASYNC {qualified} VALIDATE CONSTRAINT {constraintName}", true, "validate " + what + " " + name));
            Decisions.Add(new MappingDecision(name, constraint.Definition, "ADD CONSTRAINT ... NOT VALID, then ALTER TABLE ASYNC ... VALIDATE", "DSQL adds " + what + " constraints to existing tables only NOT VALID, validated by an async job"));
        }
    }

    [GeneratedRegex(@"^(CREATE (?:UNIQUE )?INDEX) ", RegexOptions.CultureInvariant)]
    private static partial Regex IndexHead();
}
