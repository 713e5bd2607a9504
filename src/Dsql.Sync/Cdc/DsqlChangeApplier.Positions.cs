using Npgsql;

namespace Dsql.Sync.Cdc;

public sealed partial class DsqlChangeApplier
{
    /// <summary>
    /// The stored positions of one lane layout: with one lane, the row <c>pipeline_id</c>; with N lanes, the rows
    /// <c>pipeline_id#k/N</c>. A lane's row says how far its own changes are applied: every change of that lane up to
    /// the position (and no later one). A row not written yet is <see cref="ChangePosition.Start"/>.
    /// </summary>
    /// <remarks>
    /// A pipeline run with another number of lanes than before keeps the old layout's rows for as long as they still
    /// say something: a change is applied when any stored layout says so (each layout applies only what the layouts
    /// before it had not), and an old layout's rows are deleted once the new layout's slowest lane has passed them all.
    /// </remarks>
    private sealed class Layout(int lanes, ChangePosition[] stored)
    {
        public int Lanes { get; } = lanes;

        /// <summary>Per lane, its stored position.</summary>
        public ChangePosition[] Stored { get; } = stored;

        /// <summary>Every change up to this is applied: the slowest lane's position.</summary>
        public ChangePosition Through => Stored.Aggregate(Stored[0], (a, b) => Later(a, b) == a ? b : a);

        /// <summary>The furthest any lane got.</summary>
        public ChangePosition Furthest => Stored.Aggregate(Stored[0], Later);

        /// <summary>Whether this layout applied change <paramref name="index"/> of the transaction at <paramref name="lsn"/>.</summary>
        public bool Covers(RowChange change, ulong lsn, int index)
        {
            var (lane, other) = LaneOf(change, Lanes);
            if (lane == AllLanes)
            {
                foreach (var position in Stored) if (!position.Covers(lsn, index)) return false;
                return true;
            }
            return Stored[lane].Covers(lsn, index) && (other < 0 || Stored[other].Covers(lsn, index));
        }
    }

    /// <summary>The row id of lane <paramref name="lane"/> of <paramref name="lanes"/>.</summary>
    private string RowId(int lane, int lanes) => lanes == 1 ? PipelineId : $"{PipelineId}#{lane}/{lanes}";

    /// <summary>The later of two positions.</summary>
    private static ChangePosition Later(ChangePosition a, ChangePosition b)
    {
        if (a.CommitLsn != b.CommitLsn) return a.CommitLsn > b.CommitLsn ? a : b;
        if (a.Complete != b.Complete) return a.Complete ? a : b;
        return a.Applied >= b.Applied ? a : b;
    }

    /// <summary><see cref="LaneOf"/>'s lane for a change of a whole table (a truncate): every lane.</summary>
    private const int AllLanes = -1;

    /// <summary>
    /// The lane of a change: a stable hash of its table and key (of all its values for a table without key) modulo
    /// <paramref name="lanes"/>; <see cref="AllLanes"/> for a truncate. <c>Other</c>: the second lane of a key update
    /// from one lane's key to another's (else -1). A change of two lanes, or of all, is applied with them stopped,
    /// and moves all their positions in its transaction.
    /// </summary>
    private static (int Lane, int Other) LaneOf(RowChange change, int lanes)
    {
        if (change.Kind == ChangeKind.Truncate) return (AllLanes, -1);
        if (lanes == 1) return (0, -1);
        var columns = change.Table.Columns;
        ulong table = Fnv(Fnv(FnvStart, change.Table.Schema), change.Table.Name);
        if (change.Kind == ChangeKind.Delete) return (KeyLane(table, change.OldKey!, lanes), -1);
        var values = change.NewValues!;
        ulong hash = table;
        bool keyed = false;
        for (int i = 0; i < columns.Count && i < values.Count; i++)
        {
            if (!columns[i].IsKey) continue;
            hash = Fnv(hash, values[i].Text);
            keyed = true;
        }
        if (!keyed) foreach (var value in values) hash = Fnv(hash, value.Text);
        int lane = (int)(hash % (ulong)lanes);
        if (change.Kind == ChangeKind.Update && change.OldKey is { } old && KeyLane(table, old, lanes) is var from && from != lane) return (lane, from);
        return (lane, -1);
    }

    private static int KeyLane(ulong table, IReadOnlyList<ChangeValue> key, int lanes)
    {
        ulong hash = table;
        foreach (var value in key) hash = Fnv(hash, value.Text);
        return (int)(hash % (ulong)lanes);
    }

    private const ulong FnvStart = 14695981039346656037UL;

    /// <summary>FNV-1a over a string's UTF-16 units and a separator (null hashes apart from every string).</summary>
    private static ulong Fnv(ulong hash, string? text)
    {
        if (text is null) return (hash ^ 0x1FF) * 1099511628211UL;
        foreach (char c in text) hash = (hash ^ c) * 1099511628211UL;
        return (hash ^ 0x100) * 1099511628211UL;
    }

    /// <summary>Every stored layout of the pipeline (none when nothing was ever committed).</summary>
    private async Task<List<Layout>> ReadLayoutsAsync(NpgsqlConnection connection, CancellationToken token)
    {
        await using var command = new NpgsqlCommand($"SELECT pipeline_id, commit_lsn, applied, complete FROM {_positionTable} WHERE pipeline_id = $1 OR pipeline_id LIKE $2", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = PipelineId });
        command.Parameters.Add(new NpgsqlParameter { Value = PipelineId.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("%", @"\%", StringComparison.Ordinal).Replace("_", @"\_", StringComparison.Ordinal) + "#%" });
        var rows = new Dictionary<int, Dictionary<int, ChangePosition>>();
        await using (var reader = await command.ExecuteReaderAsync(token).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(token).ConfigureAwait(false))
            {
                var position = new ChangePosition(unchecked((ulong)reader.GetInt64(1)), reader.GetInt32(2), reader.GetBoolean(3));
                string id = reader.GetString(0);
                int lane = 0, lanes = 1;
                if (id.Length > PipelineId.Length)
                {
                    var parts = id[(PipelineId.Length + 1)..].Split('/');
                    if (parts.Length != 2 || !int.TryParse(parts[0], out lane) || !int.TryParse(parts[1], out lanes) || lanes < 1 || lane < 0 || lane >= lanes) continue;
                }
                if (!rows.TryGetValue(lanes, out var layout)) rows[lanes] = layout = new();
                layout[lane] = position;
            }
        }
        return rows.Select(r => new Layout(r.Key, Enumerable.Range(0, r.Key).Select(k => r.Value.TryGetValue(k, out var p) ? p : ChangePosition.Start).ToArray())).ToList();
    }

    /// <summary>How far everything is applied: the furthest any layout's slowest lane got.</summary>
    private static ChangePosition Through(List<Layout> layouts)
        => layouts.Count == 0 ? ChangePosition.Start : layouts.Select(l => l.Through).Aggregate(Later);

    private async Task<ChangePosition> ReadPositionAsync(NpgsqlConnection connection, string rowId, CancellationToken token)
    {
        await using var command = new NpgsqlCommand($"SELECT commit_lsn, applied, complete FROM {_positionTable} WHERE pipeline_id = $1", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = rowId });
        await using var reader = await command.ExecuteReaderAsync(token).ConfigureAwait(false);
        if (!await reader.ReadAsync(token).ConfigureAwait(false)) return ChangePosition.Start;
        return new ChangePosition(unchecked((ulong)reader.GetInt64(0)), reader.GetInt32(1), reader.GetBoolean(2));
    }

    private async Task WritePositionAsync(NpgsqlConnection connection, string rowId, ChangePosition position, CancellationToken token)
    {
        await using var command = new NpgsqlCommand(
            $"INSERT INTO {_positionTable} (pipeline_id, commit_lsn, applied, complete, updated_at) VALUES ($1, $2, $3, $4, now()) " +
            "ON CONFLICT (pipeline_id) DO UPDATE SET commit_lsn = EXCLUDED.commit_lsn, applied = EXCLUDED.applied, complete = EXCLUDED.complete, updated_at = EXCLUDED.updated_at",
            connection);
        command.Parameters.Add(new NpgsqlParameter { Value = rowId });
        command.Parameters.Add(new NpgsqlParameter { Value = unchecked((long)position.CommitLsn) });
        command.Parameters.Add(new NpgsqlParameter { Value = position.Applied });
        command.Parameters.Add(new NpgsqlParameter { Value = position.Complete });
        await command.ExecuteNonQueryAsync(token).ConfigureAwait(false);
    }

    /// <summary>
    /// The stored position of a lane must be the one this run last committed there: otherwise another applier runs
    /// the pipeline (and a retried batch would write over its work).
    /// </summary>
    private async Task CheckPositionAsync(NpgsqlConnection connection, string rowId, ChangePosition expected, CancellationToken token)
    {
        var stored = await ReadPositionAsync(connection, rowId, token).ConfigureAwait(false);
        if (stored != expected)
            throw new InvalidOperationException($"The stored position of pipeline {PipelineId} ({rowId}) is {stored}, not {expected} as this applier committed: another applier is running the same pipeline.");
    }
}
