using System.Data.Common;

namespace Dsql.Sync.Schema;

public static partial class DsqlSchemaApplier
{
    private const string TargetColumnsSql = """
        SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), n.nspname::text, t.typname::text, t.typtype::text,
               a.attnotnull, a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> ''
        FROM pg_attribute a
        JOIN pg_type t ON t.oid = a.atttypid
        JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE a.attrelid = to_regclass(@table) AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """;

    /// <summary>
    /// Compares an existing target table with its mapping, reading the target's columns from the catalog
    /// (<c>pg_attribute</c>, <c>format_type</c>): the table that a load would write into must have every mapped column,
    /// each of the mapped type, and no NOT NULL column without a default that the load would leave out.
    /// Extra columns that are nullable or have a default (or are identity or generated) are not differences.
    /// </summary>
    /// <param name="connection">An open connection to the target (DSQL), not in a failed transaction.</param>
    /// <param name="table">The table's mapping.</param>
    /// <param name="cancellationToken">Cancels the catalog query.</param>
    /// <returns>
    /// Every difference, in the mapping's column order then the target's; empty when the table matches. A table that
    /// does not exist gives one <see cref="TableDifferenceKind.MissingTable"/>.
    /// </returns>
    public static async Task<IReadOnlyList<TableDifference>> CompareExistingAsync(DbConnection connection, TableMapping table, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(table);
        var target = new List<(string Name, string Type, string Qualified, bool NotNull, bool HasDefault)>();
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = TargetColumnsSql;
            var parameter = command.CreateParameter();
            parameter.ParameterName = "table";
            parameter.Value = table.QualifiedName;
            command.Parameters.Add(parameter);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                target.Add((reader.GetString(0), reader.GetString(1), SqlNames.Qualify(reader.GetString(2), reader.GetString(3)),
                    reader.GetBoolean(5), reader.GetBoolean(6)));
            }
        }

        string subject = table.Schema + "." + table.Name;
        if (target.Count == 0)
        {
            return [new TableDifference(subject, null, TableDifferenceKind.MissingTable, null, null)];
        }

        var differences = new List<TableDifference>();
        var byName = target.ToDictionary(c => c.Name, StringComparer.Ordinal);
        foreach (var column in table.Columns)
        {
            if (!byName.TryGetValue(column.Name, out var existing))
            {
                differences.Add(new TableDifference(subject, column.Name, TableDifferenceKind.MissingColumn, column.TargetType, null));
            }
            else if (!SameType(column.TargetType, existing.Type, existing.Qualified))
            {
                differences.Add(new TableDifference(subject, column.Name, TableDifferenceKind.DifferentType, column.TargetType, existing.Type));
            }
        }

        var mapped = table.Columns.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var extra in target.Where(c => !mapped.Contains(c.Name) && c.NotNull && !c.HasDefault))
        {
            differences.Add(new TableDifference(subject, extra.Name, TableDifferenceKind.ExtraNotNullColumn, null, extra.Type));
        }

        return differences;
    }

    /// <summary>
    /// The mapping writes types as <c>format_type</c> prints them on the source (so they read the same on the target),
    /// except domains, which it qualifies and quotes: <c>"schema"."name"</c>.
    /// </summary>
    private static bool SameType(string mapped, string formatted, string qualified) =>
        string.Equals(mapped, formatted, StringComparison.Ordinal) || string.Equals(mapped, qualified, StringComparison.Ordinal);
}

/// <summary>How an existing target table differs from its mapping.</summary>
public enum TableDifferenceKind
{
    /// <summary>The table does not exist on the target.</summary>
    MissingTable,

    /// <summary>A mapped column is not in the target table.</summary>
    MissingColumn,

    /// <summary>The target column has another type than the mapping gives it.</summary>
    DifferentType,

    /// <summary>The target has a NOT NULL column without a default that the mapping does not have, so every loaded row would fail.</summary>
    ExtraNotNullColumn,
}

/// <summary>One difference between an existing target table and its mapping (<see cref="DsqlSchemaApplier.CompareExistingAsync"/>).</summary>
/// <param name="Table">The table, <c>schema.table</c>.</param>
/// <param name="Column">The column, or null for <see cref="TableDifferenceKind.MissingTable"/>.</param>
/// <param name="Kind">What differs.</param>
/// <param name="Expected">The type the mapping gives the column, or null for an extra column or a missing table.</param>
/// <param name="Actual">The type of the target's column (as <c>format_type</c> prints it), or null when the column or table is missing.</param>
public sealed record TableDifference(string Table, string? Column, TableDifferenceKind Kind, string? Expected, string? Actual)
{
    /// <summary>The difference in words, naming the table, the column and both types.</summary>
    /// <returns>For example <c>public.orders.amount: the mapping makes it numeric(12,2), the target has text</c>.</returns>
    public override string ToString() => Kind switch
    {
        TableDifferenceKind.MissingTable => $"{Table}: the table does not exist on the target",
        TableDifferenceKind.MissingColumn => $"{Table}.{Column}: the mapping has this column ({Expected}), the target table does not",
        TableDifferenceKind.DifferentType => $"{Table}.{Column}: the mapping makes it {Expected}, the target has {Actual}",
        _ => $"{Table}.{Column}: the target has this NOT NULL column ({Actual}) without a default, which the load does not write, so every row would fail",
    };
}
