using Npgsql;

namespace Dsql.Sync.Cdc;

public sealed partial class PostgresChangeSource
{
    /// <summary>
    /// Checks that the source can stream the tables: <c>wal_level = logical</c>, a role with REPLICATION, a free
    /// replication slot and wal sender (unless the slot exists), a usable slot when it exists, each table present with
    /// a primary key or replica identity, an existing publication that publishes every kind of change, and the
    /// privileges the setup and the full load need.
    /// </summary>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>A task that completes when everything is in order.</returns>
    /// <exception cref="ChangeSourceException">Something is not; every problem is listed, each with its fix.</exception>
    public async Task CheckAsync(CancellationToken cancellationToken = default)
    {
        var problems = new List<ChangeSourceProblem>();
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

        string walLevel, role, database;
        int maxSlots, maxSenders, slots, senders;
        bool superuser, replication, rdsReplication, rds, canCreate;
        await using (var server = new NpgsqlCommand("""
            SELECT current_setting('wal_level'), current_setting('max_replication_slots')::int, current_setting('max_wal_senders')::int,
                   (SELECT count(*) FROM pg_replication_slots)::int,
                   (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender')::int,
                   r.rolname::text, r.rolsuper, r.rolreplication,
                   CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_replication')
                        THEN pg_has_role(current_user, 'rds_replication', 'MEMBER') ELSE false END,
                   EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_superuser'),
                   current_database()::text, has_database_privilege(current_database(), 'CREATE')
            FROM pg_roles r WHERE r.rolname = current_user
            """, connection))
        await using (var reader = await server.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            walLevel = reader.GetString(0);
            maxSlots = reader.GetInt32(1);
            maxSenders = reader.GetInt32(2);
            slots = reader.GetInt32(3);
            senders = reader.GetInt32(4);
            role = reader.GetString(5);
            superuser = reader.GetBoolean(6);
            replication = reader.GetBoolean(7);
            rdsReplication = reader.GetBoolean(8);
            rds = reader.GetBoolean(9);
            database = reader.GetString(10);
            canCreate = reader.GetBoolean(11);
        }

        if (walLevel != "logical")
            problems.Add(new(ChangeSourceProblemKind.WalLevel,
                $"wal_level is '{walLevel}'; logical replication needs 'logical'. Run ALTER SYSTEM SET wal_level = logical and restart PostgreSQL " +
                "(on Amazon RDS or Aurora PostgreSQL: set rds.logical_replication = 1 in the DB parameter group, or the DB cluster parameter group for Aurora, and reboot)."));
        if (!superuser && !replication && !rdsReplication)
            problems.Add(new(ChangeSourceProblemKind.ReplicationPrivilege,
                rds
                    ? $"Role {role} may not open replication connections (it is not a member of rds_replication). On Amazon RDS or Aurora run GRANT rds_replication TO {Quote(role)}."
                    : $"Role {role} may not open replication connections (it lacks the REPLICATION attribute). Run ALTER ROLE {Quote(role)} REPLICATION as a superuser (on Amazon RDS or Aurora: GRANT rds_replication TO {Quote(role)})."));

        var slot = await ReadSlotAsync(connection, cancellationToken).ConfigureAwait(false);
        if (slot is null)
        {
            if (slots >= maxSlots)
                problems.Add(new(ChangeSourceProblemKind.ReplicationSlots,
                    $"No replication slot is free: max_replication_slots is {maxSlots} and {slots} exist. Raise max_replication_slots (ALTER SYSTEM SET max_replication_slots = {Math.Max(maxSlots, slots) + 1}, then restart; on RDS/Aurora in the parameter group) or drop a slot no longer used (SELECT pg_drop_replication_slot('name'))."));
        }
        else if (slot.Plugin != "pgoutput" || slot.Database != database)
        {
            problems.Add(new(ChangeSourceProblemKind.Slot,
                $"Replication slot {_slot} exists but is not a pgoutput slot of database {database} (plugin {slot.Plugin ?? "none: a physical slot"}, database {slot.Database ?? "none"}). Choose another slot name, or drop it (SELECT pg_drop_replication_slot('{_slot}'))."));
        }
        if (senders >= maxSenders)
            problems.Add(new(ChangeSourceProblemKind.WalSenders,
                $"No wal sender is free: max_wal_senders is {maxSenders} and {senders} are running. Raise max_wal_senders (ALTER SYSTEM SET max_wal_senders = {Math.Max(maxSenders, senders) + 1}, then restart; on RDS/Aurora in the parameter group) or stop an unused replication client."));

        bool? allTables = null;
        bool viaRoot = false;
        await using (var publication = new NpgsqlCommand("SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate, pubviaroot FROM pg_publication WHERE pubname = $1", connection))
        {
            publication.Parameters.Add(new NpgsqlParameter { Value = _publication });
            await using var reader = await publication.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                allTables = reader.GetBoolean(0);
                viaRoot = reader.GetBoolean(5);
                var missing = new[] { "insert", "update", "delete", "truncate" }.Where((_, i) => !reader.GetBoolean(i + 1)).ToList();
                if (missing.Count > 0)
                    problems.Add(new(ChangeSourceProblemKind.Publication,
                        $"Publication {_publication} does not publish {string.Join(", ", missing)}. Run ALTER PUBLICATION {Quote(_publication)} SET (publish = 'insert, update, delete, truncate'), or choose another publication name."));
            }
        }
        if (allTables is null && !canCreate && !superuser)
            problems.Add(new(ChangeSourceProblemKind.Privilege,
                $"Publication {_publication} does not exist and role {role} may not create it (no CREATE privilege on database {database}). Run GRANT CREATE ON DATABASE {Quote(database)} TO {Quote(role)}, or create the publication as the tables' owner: CREATE PUBLICATION {Quote(_publication)} FOR TABLE ..."));

        var present = new HashSet<(string, string)>();
        if (allTables == false)
        {
            await using var list = new NpgsqlCommand("SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = $1", connection);
            list.Parameters.Add(new NpgsqlParameter { Value = _publication });
            await using var reader = await list.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) present.Add((reader.GetString(0), reader.GetString(1)));
        }

        await using (var tables = new NpgsqlCommand("""
            SELECT t.s, t.n, c.relkind::text, c.relreplident::text,
                   EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary),
                   EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident),
                   CASE WHEN c.oid IS NULL THEN false ELSE pg_has_role(current_user, c.relowner, 'USAGE') END,
                   CASE WHEN c.oid IS NULL THEN false ELSE has_table_privilege(c.oid, 'SELECT') END
            FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(s, n, o)
            LEFT JOIN pg_namespace ns ON ns.nspname = t.s
            LEFT JOIN pg_class c ON c.relnamespace = ns.oid AND c.relname = t.n
            ORDER BY t.o
            """, connection))
        {
            tables.Parameters.Add(new NpgsqlParameter { Value = _tables.Select(t => t.Schema).ToArray() });
            tables.Parameters.Add(new NpgsqlParameter { Value = _tables.Select(t => t.Name).ToArray() });
            await using var reader = await tables.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                string schema = reader.GetString(0), name = reader.GetString(1), qualified = Quote(schema) + "." + Quote(name);
                if (reader.IsDBNull(2))
                {
                    problems.Add(new(ChangeSourceProblemKind.Table, $"Table {schema}.{name} does not exist in database {database}. Check the table list (schema.table, as in the catalog)."));
                    continue;
                }
                string kind = reader.GetString(2);
                if (kind is not ("r" or "p"))
                {
                    problems.Add(new(ChangeSourceProblemKind.Table, $"{schema}.{name} is not an ordinary or partitioned table (relkind {kind}); only tables can be streamed."));
                    continue;
                }
                // A partitioned table's changes are published under its partitions' names unless the publication
                // publishes through the root; the full load and the target have the root's name only.
                if (kind == "p" && allTables is not null && !viaRoot)
                    problems.Add(new(ChangeSourceProblemKind.Publication,
                        $"{schema}.{name} is partitioned, and publication {_publication} publishes its changes under the partitions' names, which are not tables on the target. " +
                        $"Run ALTER PUBLICATION {Quote(_publication)} SET (publish_via_partition_root = true), or choose a publication name that does not exist yet (it is then created with that option)."));
                string identity = reader.GetString(3);
                bool primaryKey = reader.GetBoolean(4), identityIndex = reader.GetBoolean(5);
                if (identity == "n" || (identity == "d" && !primaryKey) || (identity == "i" && !identityIndex))
                    problems.Add(new(ChangeSourceProblemKind.ReplicaIdentity,
                        $"Table {schema}.{name} has no primary key or replica identity, so its updates and deletes could not be applied (and PostgreSQL refuses them once the table is published). " +
                        $"Add a primary key (ALTER TABLE {qualified} ADD PRIMARY KEY (...)) or run ALTER TABLE {qualified} REPLICA IDENTITY FULL."));
                bool owner = reader.GetBoolean(6), select = reader.GetBoolean(7);
                bool mustAdd = allTables is null || (allTables == false && !present.Contains((schema, name)));
                if (mustAdd && !owner && !superuser)
                    problems.Add(new(ChangeSourceProblemKind.Privilege,
                        $"Table {schema}.{name} must be added to publication {_publication}, which only its owner may do, and role {role} does not own it. " +
                        $"Add it as the owner (ALTER PUBLICATION {Quote(_publication)} ADD TABLE {qualified}, or CREATE PUBLICATION {Quote(_publication)} FOR TABLE ... when there is none), or make {role} a member of the owning role."));
                if (!select)
                    problems.Add(new(ChangeSourceProblemKind.Privilege,
                        $"Role {role} may not read table {schema}.{name} for the full load. Run GRANT SELECT ON {qualified} TO {Quote(role)}."));
            }
        }

        if (slot?.ActivePid is { } pid)
        {
            slot = await WaitForIdleSlotAsync(connection, TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
            if (slot?.ActivePid is not null)
                problems.Add(new(ChangeSourceProblemKind.Slot,
                    $"Replication slot {_slot} is in use by another process (PID {pid}): only one stream may read a slot. Stop the other pipeline, or end it with SELECT pg_terminate_backend({pid})."));
        }

        if (problems.Count > 0) throw new ChangeSourceException(problems);
    }
}
