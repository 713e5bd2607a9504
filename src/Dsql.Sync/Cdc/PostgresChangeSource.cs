using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Npgsql;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using NpgsqlTypes;

namespace Dsql.Sync.Cdc;

/// <summary>
/// Streams committed changes of PostgreSQL tables through logical replication with the built-in <c>pgoutput</c>
/// plugin: checks the server (<see cref="CheckAsync"/>), creates or reuses the publication and the slot
/// (<see cref="SetUpAsync"/>, with the snapshot for the full load), streams <see cref="SourceTransaction"/>s in commit
/// order (<see cref="StreamAsync"/>) and confirms to the server only what the consumer acknowledges
/// (<see cref="Acknowledge"/>), so after a crash the server sends again every transaction not acknowledged.
/// </summary>
/// <remarks>One stream at a time per instance. <see cref="Acknowledge"/> may be called from any thread.</remarks>
public sealed partial class PostgresChangeSource : IAsyncDisposable
{
    private readonly string _connectionString;
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _publication;
    private readonly string _slot;
    private readonly IReadOnlyList<(string Schema, string Name)> _tables;
    private readonly TimeSpan _statusInterval;
    private readonly AcknowledgementTracker _tracker = new();
    private readonly SourceTelemetry _telemetry;
    private readonly SemaphoreSlim _acknowledged = new(0, 1);
    private readonly ConcurrentDictionary<(uint Oid, int Modifier), string> _typeNames = new();
    private int _streaming;

    /// <summary>Creates a source; nothing is contacted until a method is called.</summary>
    /// <param name="options">The settings, copied and checked now.</param>
    /// <exception cref="ArgumentException">A setting is missing or malformed (the message names it).</exception>
    public PostgresChangeSource(PostgresChangeSourceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
            throw new ArgumentException("PostgresChangeSourceOptions.ConnectionString is required.", nameof(options));
        if (string.IsNullOrWhiteSpace(options.PublicationName))
            throw new ArgumentException("PostgresChangeSourceOptions.PublicationName is required.", nameof(options));
        if (!SlotNamePattern().IsMatch(options.SlotName ?? ""))
            throw new ArgumentException($"PostgresChangeSourceOptions.SlotName '{options.SlotName}' is not a slot name: use 1 to 63 lower-case letters, digits and '_'.", nameof(options));
        if (options.Tables.Count == 0)
            throw new ArgumentException("PostgresChangeSourceOptions.Tables must name at least one table (schema.table).", nameof(options));
        if (options.StatusInterval <= TimeSpan.Zero)
            throw new ArgumentException($"PostgresChangeSourceOptions.StatusInterval must be positive; it is {options.StatusInterval}.", nameof(options));
        var tables = new List<(string, string)>();
        foreach (var table in options.Tables)
        {
            var parsed = ParseTable(table);
            if (!tables.Contains(parsed)) tables.Add(parsed);
        }
        var settings = new NpgsqlConnectionStringBuilder(options.ConnectionString);
        if (string.IsNullOrEmpty(settings.ApplicationName)) settings.ApplicationName = "dsql-sync";
        _connectionString = settings.ConnectionString;
        _dataSource = NpgsqlDataSource.Create(_connectionString);
        _publication = options.PublicationName;
        _slot = options.SlotName!;
        _tables = tables;
        _statusInterval = options.StatusInterval;
        _telemetry = new SourceTelemetry(string.IsNullOrWhiteSpace(options.PipelineId) ? _slot : options.PipelineId, _slot, _tracker);
    }

    /// <summary>The publication's name.</summary>
    public string PublicationName => _publication;

    /// <summary>The slot's name.</summary>
    public string SlotName => _slot;

    /// <summary>The streamed tables, <c>schema.table</c>.</summary>
    public IReadOnlyList<string> Tables => _tables.Select(t => t.Schema + "." + t.Name).ToList();

    /// <summary>
    /// Acknowledges that the transaction committed at <paramref name="commitLsn"/> (a
    /// <see cref="SourceTransaction.CommitLsn"/>), and every one before it, is applied: the server may forget them and
    /// will not send them again. Sent to the server at once when a stream is running, else when the next one starts.
    /// Nothing else is confirmed while a delivered transaction waits for its acknowledgement.
    /// </summary>
    /// <param name="commitLsn">The commit LSN of the last transaction applied in full.</param>
    public void Acknowledge(ulong commitLsn)
    {
        if (commitLsn == 0) return;
        if (_tracker.Acknowledge(commitLsn)) Signal();
    }

    private void Signal()
    {
        try
        {
            if (_acknowledged.CurrentCount == 0) _acknowledged.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
        catch (ObjectDisposedException)
        {
            // The source is disposed.
        }
    }

    /// <summary>
    /// Creates the publication (<c>FOR TABLE</c> the tables) or adds the tables missing from it, then creates the slot
    /// with an exported snapshot, or finds it and resumes. Checks the server first (<see cref="CheckAsync"/>).
    /// </summary>
    /// <param name="cancellationToken">Cancels the setup.</param>
    /// <returns>The slot's start: dispose it when the full load has imported the snapshot (or at once when the slot existed).</returns>
    /// <exception cref="ChangeSourceException">The server or the tables are not ready; every problem is listed with its fix.</exception>
    public async Task<ChangeSourceStart> SetUpAsync(CancellationToken cancellationToken = default)
    {
        await CheckAsync(cancellationToken).ConfigureAwait(false);
        IReadOnlyList<string> added;
        SlotInfo? slot;
        await using (var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false))
        {
            // The publication first: decoding a slot's changes needs the publication as of each change.
            added = await EnsurePublicationAsync(connection, cancellationToken).ConfigureAwait(false);
            slot = await ReadSlotAsync(connection, cancellationToken).ConfigureAwait(false);
        }
        if (slot is not null) return new ChangeSourceStart(null, null, slot.Confirmed, added);

        var replication = new LogicalReplicationConnection(_connectionString);
        try
        {
            await replication.Open(cancellationToken).ConfigureAwait(false);
            // Waits until every transaction running now has ended: then the snapshot and the slot meet exactly.
            var created = await replication.CreatePgOutputReplicationSlot(_slot, temporarySlot: false,
                slotSnapshotInitMode: LogicalSlotSnapshotInitMode.Export, cancellationToken: cancellationToken).ConfigureAwait(false);
            return new ChangeSourceStart(replication, created.SnapshotName, (ulong)created.ConsistentPoint, added);
        }
        catch
        {
            await replication.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task<IReadOnlyList<string>> EnsurePublicationAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        bool? allTables = null;
        await using (var find = new NpgsqlCommand("SELECT puballtables FROM pg_publication WHERE pubname = $1", connection))
        {
            find.Parameters.Add(new NpgsqlParameter { Value = _publication });
            if (await find.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is bool all) allTables = all;
        }
        if (allTables is null)
        {
            string list = string.Join(", ", _tables.Select(t => Quote(t.Schema) + "." + Quote(t.Name)));
            // Partitioned tables publish their partitions' changes under the root's name, the one table the load and
            // the target know (PostgreSQL 13 and later).
            string options = await AnyPartitionedAsync(connection, cancellationToken).ConfigureAwait(false) ? " WITH (publish_via_partition_root = true)" : "";
            await using var create = new NpgsqlCommand($"CREATE PUBLICATION {Quote(_publication)} FOR TABLE {list}{options}", connection);
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return [];
        }
        if (allTables.Value) return [];

        var present = new HashSet<(string, string)>();
        await using (var list = new NpgsqlCommand("SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = $1", connection))
        {
            list.Parameters.Add(new NpgsqlParameter { Value = _publication });
            await using var reader = await list.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) present.Add((reader.GetString(0), reader.GetString(1)));
        }
        var missing = _tables.Where(t => !present.Contains(t)).ToList();
        if (missing.Count == 0) return [];
        await using var alter = new NpgsqlCommand(
            $"ALTER PUBLICATION {Quote(_publication)} ADD TABLE {string.Join(", ", missing.Select(t => Quote(t.Schema) + "." + Quote(t.Name)))}", connection);
        await alter.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return missing.Select(t => t.Schema + "." + t.Name).ToList();
    }

    private async Task<bool> AnyPartitionedAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT EXISTS (SELECT 1 FROM unnest($1::text[], $2::text[]) AS t(s, n)
                           JOIN pg_namespace ns ON ns.nspname = t.s JOIN pg_class c ON c.relnamespace = ns.oid AND c.relname = t.n
                           WHERE c.relkind = 'p')
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = _tables.Select(t => t.Schema).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = _tables.Select(t => t.Name).ToArray() });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    private sealed record SlotInfo(string? Plugin, string? Database, int? ActivePid, ulong Confirmed);

    private async Task<SlotInfo?> ReadSlotAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT plugin::text, database::text, active_pid, COALESCE(confirmed_flush_lsn, '0/0'::pg_lsn) FROM pg_replication_slots WHERE slot_name = $1", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = _slot });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) return null;
        return new SlotInfo(
            reader.IsDBNull(0) ? null : reader.GetString(0),
            reader.IsDBNull(1) ? null : reader.GetString(1),
            reader.IsDBNull(2) ? null : reader.GetInt32(2),
            (ulong)reader.GetFieldValue<NpgsqlLogSequenceNumber>(3));
    }

    /// <summary>
    /// Waits until no process streams from the slot (a stream just stopped releases it within moments), at most
    /// <paramref name="limit"/>; returns the slot (null when it does not exist).
    /// </summary>
    private async Task<SlotInfo?> WaitForIdleSlotAsync(NpgsqlConnection connection, TimeSpan limit, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            var slot = await ReadSlotAsync(connection, cancellationToken).ConfigureAwait(false);
            if (slot?.ActivePid is null || DateTime.UtcNow >= deadline) return slot;
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Drops the slot and the publication, when they exist (cleanup; the server then keeps no log for this source).</summary>
    /// <param name="cancellationToken">Cancels the statements.</param>
    /// <returns>A task that completes when both are gone.</returns>
    public async Task DropAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await WaitForIdleSlotAsync(connection, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        await using (var drop = new NpgsqlCommand("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", connection))
        {
            drop.Parameters.Add(new NpgsqlParameter { Value = _slot });
            await drop.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await using var dropPublication = new NpgsqlCommand($"DROP PUBLICATION IF EXISTS {Quote(_publication)}", connection);
        await dropPublication.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Releases the source's connections. A running stream should be stopped first.</summary>
    /// <returns>A task that completes when the connections are closed.</returns>
    public async ValueTask DisposeAsync()
    {
        await _dataSource.DisposeAsync().ConfigureAwait(false);
        _acknowledged.Dispose();
    }

    private static (string Schema, string Name) ParseTable(string table)
    {
        if (string.IsNullOrWhiteSpace(table))
            throw new ArgumentException("PostgresChangeSourceOptions.Tables: an entry is empty; use schema.table.", nameof(table));
        int dot = table.IndexOf('.', StringComparison.Ordinal);
        if (dot < 0) return ("public", table);
        string schema = table[..dot], name = table[(dot + 1)..];
        if (schema.Length == 0 || name.Length == 0 || name.Contains('.', StringComparison.Ordinal))
            throw new ArgumentException($"PostgresChangeSourceOptions.Tables: '{table}' is not schema.table.", nameof(table));
        return (schema, name);
    }

    internal static string Quote(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    [GeneratedRegex("^[a-z0-9_]{1,63}$", RegexOptions.CultureInvariant)]
    private static partial Regex SlotNamePattern();
}
