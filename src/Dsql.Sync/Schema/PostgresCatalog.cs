using Npgsql;

namespace Dsql.Sync.Schema;

/// <summary>What the catalog queries read from a PostgreSQL source.</summary>
internal sealed record SourceTable(uint Oid, string Schema, string Name, bool IsPartitioned)
{
    public List<SourceColumn> Columns { get; } = new();
    public List<SourceConstraint> Constraints { get; } = new();
    public List<SourceIndex> Indexes { get; } = new();
}

internal sealed record SourceColumn(
    short Number, string Name, bool NotNull, string FormattedType, char Identity, bool Generated, string? Default,
    string? Sequence, long? SequenceNext, SourceType Type, string? Collation = null);

/// <summary>A column's type: for a domain, <see cref="BaseType"/> is the type underneath.</summary>
internal sealed record SourceType(
    uint Oid, string Schema, string Name, char Kind, char Category, int Modifier, string Formatted,
    SourceType? BaseType, bool DomainNotNull, string? DomainDefault, IReadOnlyList<string> DomainChecks, IReadOnlyList<string> EnumLabels);

internal sealed record SourceConstraint(string Name, char Kind, string Definition, IReadOnlyList<string> Columns, string? ReferencedSchema, string? ReferencedTable, string? IndexDefinition);

internal sealed record SourceIndex(string Name, string Definition, string AccessMethod, int KeyColumns, IReadOnlyList<string> Columns);

/// <summary>The catalog queries (pg_class, pg_attribute, pg_type, pg_constraint, pg_index) of a PostgreSQL source.</summary>
internal static class PostgresCatalog
{
    public static async Task<List<SourceTable>> ReadAsync(NpgsqlConnection source, TableSelection selection, CancellationToken cancellationToken)
    {
        var tables = new List<SourceTable>();
        await using (var command = new NpgsqlCommand(
            """
            SELECT c.oid, n.nspname, c.relname, c.relkind = 'p'
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
              AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
            ORDER BY n.nspname, c.relname
            """, source))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var table = new SourceTable(reader.GetFieldValue<uint>(0), reader.GetString(1), reader.GetString(2), reader.GetBoolean(3));
                if (selection.Includes(table.Schema, table.Name))
                {
                    tables.Add(table);
                }
            }
        }

        if (tables.Count == 0)
        {
            return tables;
        }

        var byOid = tables.ToDictionary(t => t.Oid);
        uint[] oids = byOid.Keys.ToArray();
        var types = new Dictionary<uint, SourceType>();

        await using (var command = new NpgsqlCommand(
            """
            SELECT a.attrelid, a.attnum, a.attname, a.attnotnull, format_type(a.atttypid, a.atttypmod), a.attidentity::text,
                   a.attgenerated <> '', pg_get_expr(d.adbin, d.adrelid), s.seq,
                   (SELECT COALESCE(q.last_value + q.increment_by, q.start_value) FROM pg_sequences q
                     WHERE s.seq IS NOT NULL AND format('%I.%I', q.schemaname, q.sequencename)::regclass = s.seq::regclass),
                   a.atttypid, a.atttypmod,
                   (SELECT co.collname FROM pg_collation co WHERE co.oid = a.attcollation AND a.attcollation <> 0
                      AND co.collname NOT IN ('C', 'POSIX', 'default'))
            FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            CROSS JOIN LATERAL (SELECT pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname) AS seq) s
            WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attrelid, a.attnum
            """, source))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = oids, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Oid });
            var rows = new List<(uint Table, short Number, string Name, bool NotNull, string Formatted, char Identity, bool Generated, string? Default, string? Sequence, long? Next, uint TypeOid, int Modifier, string? Collation)>();
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    string identity = reader.GetString(5);
                    rows.Add((reader.GetFieldValue<uint>(0), reader.GetInt16(1), reader.GetString(2), reader.GetBoolean(3), reader.GetString(4),
                        identity.Length == 0 ? '\0' : identity[0], reader.GetBoolean(6), reader.IsDBNull(7) ? null : reader.GetString(7),
                        reader.IsDBNull(8) ? null : reader.GetString(8), reader.IsDBNull(9) ? null : reader.GetInt64(9),
                        reader.GetFieldValue<uint>(10), reader.GetInt32(11), reader.IsDBNull(12) ? null : reader.GetString(12)));
                }
            }

            foreach (var row in rows)
            {
                var type = await ReadTypeAsync(source, row.TypeOid, row.Modifier, types, cancellationToken).ConfigureAwait(false);
                byOid[row.Table].Columns.Add(new SourceColumn(row.Number, row.Name, row.NotNull, row.Formatted, row.Identity, row.Generated,
                    row.Default, row.Sequence, row.Next, type, row.Collation));
            }
        }

        await using (var command = new NpgsqlCommand(
            """
            SELECT con.conrelid, con.conname, con.contype::text, pg_get_constraintdef(con.oid),
                   ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
                         JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.ord),
                   rn.nspname, rc.relname, CASE WHEN con.contype = 'u' THEN pg_get_indexdef(con.conindid) END
            FROM pg_constraint con
            LEFT JOIN pg_class rc ON rc.oid = con.confrelid LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
            WHERE con.conrelid = ANY($1) AND con.contype IN ('p', 'u', 'f', 'c', 'x')
            ORDER BY con.conrelid, con.conname
            """, source))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = oids, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Oid });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                byOid[reader.GetFieldValue<uint>(0)].Constraints.Add(new SourceConstraint(reader.GetString(1), reader.GetString(2)[0], reader.GetString(3),
                    reader.GetFieldValue<string[]>(4), reader.IsDBNull(5) ? null : reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6),
                    reader.IsDBNull(7) ? null : reader.GetString(7)));
            }
        }

        await using (var command = new NpgsqlCommand(
            """
            SELECT i.indrelid, ic.relname, pg_get_indexdef(i.indexrelid), am.amname, i.indnkeyatts,
                   ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey))
            FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
            WHERE i.indrelid = ANY($1)
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x'))
            ORDER BY i.indrelid, ic.relname
            """, source))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = oids, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Oid });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                byOid[reader.GetFieldValue<uint>(0)].Indexes.Add(new SourceIndex(reader.GetString(1), reader.GetString(2), reader.GetString(3),
                    reader.GetInt16(4), reader.GetFieldValue<string[]>(5)));
            }
        }

        return tables;
    }

    private static async Task<SourceType> ReadTypeAsync(NpgsqlConnection source, uint oid, int modifier, Dictionary<uint, SourceType> cache, CancellationToken cancellationToken)
    {
        if (cache.TryGetValue(oid, out var known) && known.Modifier == modifier)
        {
            return known;
        }

        uint baseOid;
        int baseModifier;
        SourceType type;
        await using (var command = new NpgsqlCommand(
            """
            SELECT n.nspname, t.typname, t.typtype::text, t.typcategory::text, format_type(t.oid, $2), t.typbasetype, t.typtypmod,
                   t.typnotnull, t.typdefault,
                   ARRAY(SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c' ORDER BY c.conname),
                   ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = $1
            """, source))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = oid, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Oid });
            command.Parameters.Add(new NpgsqlParameter { Value = modifier });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            baseOid = reader.GetFieldValue<uint>(5);
            baseModifier = reader.GetInt32(6);
            type = new SourceType(oid, reader.GetString(0), reader.GetString(1), reader.GetString(2)[0], reader.GetString(3)[0], modifier,
                reader.GetString(4), null, reader.GetBoolean(7), reader.IsDBNull(8) ? null : reader.GetString(8),
                reader.GetFieldValue<string[]>(9), reader.GetFieldValue<string[]>(10));
        }

        if (type.Kind == 'd')
        {
            // A domain: the formatted name of the base type carries the domain's own modifier.
            var baseType = await ReadTypeAsync(source, baseOid, baseModifier, cache, cancellationToken).ConfigureAwait(false);
            type = type with { BaseType = baseType };
        }

        cache[oid] = type;
        return type;
    }
}
