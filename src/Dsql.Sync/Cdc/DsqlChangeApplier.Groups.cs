using Npgsql;

namespace Dsql.Sync.Cdc;

public sealed partial class DsqlChangeApplier
{
    /// <summary>
    /// The statements of one batch with the changes merged: within a segment, each target row's changes collapse into
    /// their net effect (the row's last full values, or its deletion), written as multi-row deletes then multi-row
    /// upserts. Every row appears once in a segment, so the order of rows inside it does not matter. A change that
    /// cannot be merged (a partial update of a row the segment does not hold in full, a key change that sends only
    /// some columns, a table whose source key is not its primary key, a second shape of a table) closes the segment
    /// and is written by its own statements, in order.
    /// </summary>
    /// <remarks>
    /// A segment writes rows in another order than the source did. With only a primary key that is the same
    /// outcome; a secondary unique index may refuse an order the source's did not (two rows swapping a unique value),
    /// and a batch whose merged statements fail is applied again change by change.
    /// </remarks>
    private sealed class Grouping
    {
        private readonly Dictionary<ChangeTarget, Table> _tables = new(ReferenceEqualityComparer.Instance);
        private readonly List<Table> _order = new();
        private readonly List<NpgsqlBatchCommand> _commands = new();

        /// <summary>One table's net effects in the open segment, in first-seen order.</summary>
        private sealed class Table(ChangeStatements statements)
        {
            public ChangeStatements Statements { get; } = statements;
            public Dictionary<string, int> Index { get; } = new(StringComparer.Ordinal);
            public List<(bool Delete, IReadOnlyList<ChangeValue> Values)> Rows { get; } = new();

            public void Set(string key, bool delete, IReadOnlyList<ChangeValue> values)
            {
                if (Index.TryGetValue(key, out int at)) Rows[at] = (delete, values);
                else
                {
                    Index[key] = Rows.Count;
                    Rows.Add((delete, values));
                }
            }
        }

        /// <summary>The merged statements of <paramref name="items"/>, in an order that gives the same rows.</summary>
        public static List<NpgsqlBatchCommand> Build(List<Item> items)
        {
            var grouping = new Grouping();
            foreach (var item in items) grouping.Add(item);
            grouping.Close();
            return grouping._commands;
        }

        private void Add(Item item)
        {
            if (item.Change is not { } change || item.Statements is not { } statements) return;
            if (!statements.CanGroup)
            {
                Ordered(item);
                return;
            }
            if (!_tables.TryGetValue(statements.Target, out var table) || !ReferenceEquals(table.Statements, statements))
            {
                if (table is not null) Close(); // a second shape of the table: the first one's rows go first
                table = new Table(statements);
                _tables[statements.Target] = table;
                _order.Add(table);
            }
            switch (change.Kind)
            {
                case ChangeKind.Insert:
                    table.Set(statements.KeyOf(change.NewValues!), false, change.NewValues!);
                    return;
                case ChangeKind.Delete:
                    table.Set(ChangeStatements.OldKeyOf(change.OldKey!), true, change.OldKey!);
                    return;
            }
            var values = change.NewValues!;
            bool partial = values.Any(v => v.IsUnchanged);
            bool keyChanged = statements.KeyChanged(change);
            if (!partial)
            {
                if (keyChanged) table.Set(ChangeStatements.OldKeyOf(change.OldKey!), true, change.OldKey!);
                table.Set(statements.KeyOf(values), false, values);
                return;
            }
            if (!keyChanged && table.Index.TryGetValue(statements.KeyOf(values), out int at))
            {
                var (deleted, held) = table.Rows[at];
                if (deleted) return; // updating a row deleted earlier in the batch changes nothing
                var merged = new ChangeValue[values.Count];
                for (int i = 0; i < merged.Length; i++) merged[i] = values[i].IsUnchanged ? held[i] : values[i];
                table.Rows[at] = (false, merged);
                return;
            }
            Ordered(item);
        }

        /// <summary>A change written by its own statements after everything before it.</summary>
        private void Ordered(Item item)
        {
            Close();
            _commands.AddRange(item.Commands);
        }

        /// <summary>Writes the open segment: each table's deletes, then its upserts.</summary>
        private void Close()
        {
            foreach (var table in _order)
            {
                var deletes = new List<IReadOnlyList<ChangeValue>>();
                var upserts = new List<IReadOnlyList<ChangeValue>>();
                foreach (var (delete, values) in table.Rows) (delete ? deletes : upserts).Add(values);
                if (deletes.Count > 0) table.Statements.AddGroupedDeletes(deletes, _commands);
                if (upserts.Count > 0) table.Statements.AddGroupedUpserts(upserts, _commands);
            }
            _tables.Clear();
            _order.Clear();
        }
    }
}
