using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Emulator.Tests;

/// <summary>
/// Replays the probes recorded against a real Aurora DSQL cluster (Conformance/*.json) through the emulator and
/// compares every answer: outcome, SQLSTATE and message exactly; for a success the command tag, the column names
/// and the rows (unless the recording says <c>ignore_rows</c>).
/// </summary>
/// <remarks>
/// Each case runs in a fresh schema of its own (created directly on the backend) holding the recorder's fixture
/// tables, and reaches it through <c>Search Path</c>. Cases that name no <c>baseline_*</c> object run without that
/// search path, because the schema would show through (<c>SELECT current_schema()</c> must answer <c>public</c>).
/// </remarks>
[Collection(BackendCollection.Name)]
public sealed partial class ConformanceReplayTests(BackendFixture backend)
{
    private const string ConflictMessage = "change conflicts with another transaction (OC000)";

    /// <summary>
    /// Recorded cases that cannot match because the backend is PostgreSQL 15 while DSQL is PostgreSQL 16. They are
    /// not replayed as conformance cases; <see cref="Every_known_difference_still_differs"/> checks each still differs.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> KnownDifferences = new Dictionary<string, string>
    {
    };

    /// <summary>
    /// State a case inherited from the cases the recorder ran before it on the same cluster (the recorder shares
    /// one fixture across the whole suite; here each case starts fresh, so the inherited state is recreated).
    /// </summary>
    private static readonly IReadOnlyDictionary<string, string[]> InheritedState = new Dictionary<string, string[]>
    {
        // The `commit` case, recorded just before, committed this row; `rollback` counts it.
        ["rollback"] = ["INSERT INTO baseline_parent (id, name) VALUES ('00000000-0000-0000-0000-0000000000bb', 'tx')"],
    };

    // ------------------------------------------------------------------ single-connection cases

    public static IEnumerable<object[]> ReplayableCases() =>
        from file in ConformanceFile.LoadAll()
        from c in file.Value.Cases
        where c.Sessions is null && !KnownDifferences.ContainsKey(c.Name)
        select new object[] { file.Key, c.Name };

    public static IEnumerable<object[]> KnownDifferenceCases() =>
        from file in ConformanceFile.LoadAll()
        from c in file.Value.Cases
        where KnownDifferences.ContainsKey(c.Name)
        select new object[] { file.Key, c.Name };

    [Theory]
    [MemberData(nameof(ReplayableCases))]
    public async Task Replays_recorded_case(string file, string name)
    {
        var recorded = ConformanceFile.Find(file, name);
        var observed = await ReplayAsync(recorded);
        var problems = Differences(recorded, observed);
        Assert.True(problems.Count == 0, $"{file} / {name} differs from DSQL:\n" + string.Join("\n", problems));
    }

    /// <summary>
    /// The same cases with every step sent by <see cref="SimpleQueryClient"/>, which reads the exact command tag
    /// where Npgsql keeps only a statement type and row count: this is what checks tags such as CREATE TABLE, or
    /// DSQL's ROLLBACK answer to the COMMIT of a failed transaction. Steps go with the protocol the recording used.
    /// </summary>
    [Theory]
    [MemberData(nameof(ReplayableCases))]
    public async Task Replays_recorded_case_with_exact_command_tags(string file, string name)
    {
        var recorded = ConformanceFile.Find(file, name);
        var observed = await ReplayAsync(recorded, exactTags: true);
        var problems = Differences(recorded, observed);
        Assert.True(problems.Count == 0, $"{file} / {name} differs from DSQL:\n" + string.Join("\n", problems));
    }

    [Fact]
    public async Task Every_known_difference_still_differs()
    {
        // If this fails, the emulator (or a newer backend) now matches DSQL: remove the entry from KnownDifferences.
        var cases = KnownDifferenceCases().Select(row => ((string)row[0], (string)row[1])).ToList();
        Assert.Equal(KnownDifferences.Count, cases.Count); // every listed name is a recorded case
        foreach (var (file, name) in cases)
        {
            var recorded = ConformanceFile.Find(file, name);
            var observed = await ReplayAsync(recorded);
            Assert.True(Differences(recorded, observed).Count > 0, $"{file} / {name} now matches DSQL: remove it from KnownDifferences");
        }
    }

    [Fact]
    public void Every_recorded_case_is_replayed_or_listed_as_a_known_difference()
    {
        var files = ConformanceFile.LoadAll();
        Assert.NotEmpty(files);
        var all = files.SelectMany(f => f.Value.Cases).ToList();
        Assert.Equal(all.Count, all.Select(c => c.Name).Distinct().Count()); // names identify cases across files

        var replayed = ReplayableCases().Select(row => (string)row[1]).ToHashSet();
        var excluded = all.Where(c => c.Sessions is null && !replayed.Contains(c.Name)).Select(c => c.Name).ToHashSet();
        Assert.True(excluded.SetEquals(KnownDifferences.Keys),
            $"excluded: [{string.Join(", ", excluded.Order())}], KnownDifferences: [{string.Join(", ", KnownDifferences.Keys.Order())}]");

        var concurrent = all.Where(c => c.Sessions is not null).Select(c => c.Name).ToHashSet();
        Assert.True(concurrent.SetEquals(SessionScripts.Keys),
            $"recorded concurrent cases: [{string.Join(", ", concurrent.Order())}], scripted: [{string.Join(", ", SessionScripts.Keys.Order())}]");
        Assert.All(all.Where(c => c.Sessions is null), c =>
        {
            Assert.NotNull(c.Steps);
            Assert.Equal(c.Steps!.Count, c.Observations?.Count);
        });
    }

    private async Task<List<Observed>> ReplayAsync(ConformanceCase recorded, bool exactTags = false)
    {
        var steps = recorded.Steps!;
        await using var schema = await CaseSchema.CreateAsync(backend, InheritedState.GetValueOrDefault(recorded.Name) ?? []);
        await using var emulator = await backend.StartEmulatorAsync();
        string? searchPath = steps.Any(NamesFixture) ? schema.Name : null;
        var observed = new List<Observed>();
        if (recorded.SimpleProtocol || exactTags)
        {
            await using var client = await SimpleQueryClient.OpenAsync(emulator, searchPath);
            foreach (var step in steps)
                observed.Add(new Observed(recorded.SimpleProtocol ? await client.QueryAsync(step) : await client.ExtendedAsync(step), null, 0));
        }
        else
        {
            await using var connection = await EmulatorConnections.OpenAsync(emulator, extra: searchPath is null ? null : "Search Path=" + searchPath);
            foreach (var step in steps) observed.Add(await RunExtendedAsync(connection, step));
        }
        return observed;
    }

    private static bool NamesFixture(string sql) => sql.Contains("baseline_", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Runs one step with the extended protocol. An <see cref="NpgsqlBatch"/> of one command sends exactly what an
    /// <see cref="NpgsqlCommand"/> sends (Parse/Bind/Describe/Execute/Sync), and its batch command exposes what
    /// Npgsql parsed from CommandComplete: the statement type and the row count. Npgsql keeps no other part of
    /// the tag, so a tag such as BEGIN, COMMIT or CREATE TABLE is checked only as "not a row statement".
    /// </summary>
    private static async Task<Observed> RunExtendedAsync(NpgsqlConnection connection, string sql)
    {
        await using var batch = new NpgsqlBatch(connection);
        var command = new NpgsqlBatchCommand(sql);
        batch.BatchCommands.Add(command);
        var observation = new Observation { Outcome = "ok" };
        try
        {
            await using var reader = await batch.ExecuteReaderAsync();
            if (reader.FieldCount > 0)
            {
                observation.Columns = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToList();
                observation.Rows = [];
                while (await reader.ReadAsync())
                    observation.Rows.Add(Enumerable.Range(0, reader.FieldCount).Select(i => FormatValue(reader.GetValue(i))).ToList());
            }
            while (await reader.NextResultAsync())
            {
                // A recorded extended-protocol step is one statement; nothing more is expected.
            }
        }
        catch (PostgresException ex)
        {
            return new Observed(new Observation { Outcome = "error", SqlState = ex.SqlState, Message = ex.MessageText }, null, 0);
        }
        return new Observed(observation, command.StatementType, command.Rows);
    }

    private static string? FormatValue(object value) => value switch
    {
        DBNull => "NULL",
        bool b => b ? "true" : "false",
        Guid g => g.ToString("D"),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };

    // ------------------------------------------------------------------ comparison

    /// <summary>What the emulator answered to one step; <see cref="Type"/> is null when the exact tag is known.</summary>
    private sealed record Observed(Observation Observation, StatementType? Type, ulong Rows)
    {
        public override string ToString() => Type is null ? Observation.ToString() : $"{Observation} ({Type}, {Rows} rows)";
    }

    private static List<string> Differences(ConformanceCase recorded, IReadOnlyList<Observed> observed)
    {
        var problems = new List<string>();
        for (int i = 0; i < recorded.Observations!.Count; i++)
        {
            var step = recorded.Steps![i];
            var expected = recorded.Observations[i];
            var actual = observed[i];
            var differences = Compare(expected, actual, recorded.IgnoreRows);
            if (differences.Count > 0)
                problems.Add($"  step {i + 1} `{step}`: {string.Join("; ", differences)}\n    expected {expected}\n    observed {actual}");
        }
        return problems;
    }

    private static List<string> Compare(Observation expected, Observed observed, bool ignoreRows)
    {
        var actual = observed.Observation;
        var problems = new List<string>();
        if (expected.IsError != actual.IsError)
        {
            problems.Add(expected.IsError ? "expected an error, got a success" : "expected a success, got an error");
            return problems;
        }
        if (expected.IsError)
        {
            if (expected.SqlState != actual.SqlState) problems.Add($"SQLSTATE {actual.SqlState} instead of {expected.SqlState}");
            if (expected.Message != actual.Message) problems.Add("different message");
            return problems;
        }
        if (expected.Results is not null)
        {
            var results = actual.Results ?? [];
            if (results.Count != expected.Results.Count)
            {
                problems.Add($"{results.Count} results instead of {expected.Results.Count}");
                return problems;
            }
            for (int i = 0; i < results.Count; i++)
                foreach (var problem in Compare(expected.Results[i], new Observed(results[i], null, 0), ignoreRows))
                    problems.Add($"result {i + 1}: {problem}");
            return problems;
        }

        if (observed.Type is null)
        {
            if (expected.CommandTag != actual.CommandTag) problems.Add($"tag \"{actual.CommandTag}\" instead of \"{expected.CommandTag}\"");
        }
        else if (expected.CommandTag is not null)
        {
            var (type, rows) = ParseTag(expected.CommandTag);
            if (type != observed.Type || (rows is { } n && n != observed.Rows))
                problems.Add($"Npgsql saw ({observed.Type}, {observed.Rows} rows) where the tag \"{expected.CommandTag}\" means ({type}, {rows?.ToString(CultureInfo.InvariantCulture) ?? "any"} rows)");
        }

        // ignore_rows: "compare only the outcome and tag" (Conformance/README.md).
        if (ignoreRows) return problems;
        var expectedColumns = expected.Columns ?? [];
        var actualColumns = actual.Columns ?? [];
        if (!expectedColumns.SequenceEqual(actualColumns))
            problems.Add($"columns [{string.Join(", ", actualColumns)}] instead of [{string.Join(", ", expectedColumns)}]");
        var expectedRows = (expected.Rows ?? []).Select(row => row.Select(NormalizeRecordedValue).ToList()).ToList();
        var actualRows = actual.Rows ?? [];
        if (expectedRows.Count != actualRows.Count || expectedRows.Zip(actualRows).Any(pair => !pair.First.SequenceEqual(pair.Second)))
            problems.Add("different rows");
        return problems;
    }

    /// <summary>The statement type and row count Npgsql derives from a command tag (null count: not a row statement).</summary>
    private static (StatementType Type, ulong? Rows) ParseTag(string tag)
    {
        var words = tag.Split(' ');
        ulong Count() => ulong.Parse(words[^1], CultureInfo.InvariantCulture);
        return words[0] switch
        {
            "SELECT" when words.Length == 2 => (StatementType.Select, Count()),
            "INSERT" when words.Length == 3 => (StatementType.Insert, Count()),
            "UPDATE" when words.Length == 2 => (StatementType.Update, Count()),
            "DELETE" when words.Length == 2 => (StatementType.Delete, Count()),
            "MERGE" when words.Length == 2 => (StatementType.Merge, Count()),
            _ => (StatementType.Other, null),
        };
    }

    /// <summary>
    /// The recorder (Go, pgx) decoded uuid columns into a 16-byte array and printed it with %v, e.g.
    /// <c>[0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 170]</c>. That is the uuid's value, only spelled differently, so it is
    /// turned back into PostgreSQL's text form and compared exactly rather than ignored.
    /// </summary>
    private static string? NormalizeRecordedValue(string? value)
    {
        if (value is null || !UuidBytes().IsMatch(value)) return value;
        var bytes = value[1..^1].Split(' ').Select(b => byte.Parse(b, CultureInfo.InvariantCulture)).ToArray();
        string hex = Convert.ToHexStringLower(bytes);
        return $"{hex[..8]}-{hex[8..12]}-{hex[12..16]}-{hex[16..20]}-{hex[20..]}";
    }

    [GeneratedRegex(@"^\[\d{1,3}(?: \d{1,3}){15}\]$")]
    private static partial Regex UuidBytes();

    // ------------------------------------------------------------------ concurrent cases (occ_conflict.json)

    private const string Ab = "'00000000-0000-0000-0000-0000000000ab'";
    private const string Ac = "'00000000-0000-0000-0000-0000000000ac'";
    private const string Ad = "'00000000-0000-0000-0000-0000000000ad'";
    private const string Ae = "'00000000-0000-0000-0000-0000000000ae'";
    private const string Af = "'00000000-0000-0000-0000-0000000000af'";

    /// <summary>
    /// An explicit replay of a concurrent case. The recording keeps only the observations; the SQL is the
    /// recorder's (Dreamescaper/dsql-emulator, internal/conformance/suite.go, occConflictCases), which ran the
    /// sessions in lockstep, 150 ms between steps: both BEGIN, then both statements at about the same moment,
    /// then both COMMITs. DSQL lets the first COMMIT win, so the recorded winner is the session that committed
    /// first. The emulator lets the first to lock the row win: the loser's statement meets the row lock (after a lock
    /// wait of at most 200 ms), is rolled back to an internal savepoint and answered as DSQL would have answered it,
    /// and the loser's COMMIT fails with 40001 OC000. The replay therefore lets the recorded winner run its statement
    /// first and commit first, a schedule that gives the same winner on DSQL too.
    /// </summary>
    private sealed record SessionScript(string[] Setup, string[][] Sessions, (int Session, int Step)[] Order, string FinalStateQuery, string FinalState);

    private static (int, int)[] WinnerFirst(int winner)
    {
        int loser = 1 - winner;
        return [(0, 0), (1, 0), (winner, 1), (loser, 1), (winner, 2), (loser, 2)];
    }

    /// <summary>Concurrent cases whose loser still fails at its statement: SELECT ... FOR UPDATE returns rows, which the emulator cannot answer for.</summary>
    private static readonly HashSet<string> StatementTimeConflicts = ["occ_for_update_vs_write"];

    private static readonly (int, int)[] SideBySide = [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2), (1, 2)];

    private static string[] Txn(string statement) => ["BEGIN", statement, "COMMIT"];

    private static readonly IReadOnlyDictionary<string, SessionScript> SessionScripts = new Dictionary<string, SessionScript>
    {
        // DSQL: both UPDATEs succeed, B commits first, A fails at COMMIT.
        // Emulator: the same; A's UPDATE meets B's row lock, is answered UPDATE 1 and dooms A's transaction.
        ["occ_write_write"] = new(
            [],
            [Txn($"UPDATE baseline_conflict SET name = 'ww-a' WHERE id = {Ac}"), Txn($"UPDATE baseline_conflict SET name = 'ww-b' WHERE id = {Ac}")],
            WinnerFirst(1),
            $"SELECT name FROM baseline_conflict WHERE id = {Ac}", "ww-b"),

        // DSQL: A's SELECT ... FOR UPDATE reads 'ww-b' (left by occ_write_write), B commits its UPDATE first, A
        // fails at COMMIT. Emulator: A's SELECT ... FOR UPDATE waits for B's row lock and fails with 40001 OC000 at
        // the SELECT (rows cannot be answered for: a conflict the emulator still reports at the statement).
        ["occ_for_update_vs_write"] = new(
            [$"UPDATE baseline_conflict SET name = 'ww-b' WHERE id = {Ac}"],
            [Txn($"SELECT name FROM baseline_conflict WHERE id = {Ac} FOR UPDATE"), Txn($"UPDATE baseline_conflict SET name = 'fu-b' WHERE id = {Ac}")],
            WinnerFirst(1),
            $"SELECT name FROM baseline_conflict WHERE id = {Ac}", "fu-b"),

        // DSQL: A's SELECT ... FOR KEY SHARE reads 'fu-b' (left by occ_for_update_vs_write), A commits first, B's
        // DELETE fails at COMMIT. Emulator: the same; B's DELETE meets A's key-share lock and is answered DELETE 1.
        ["occ_for_key_share_vs_delete"] = new(
            [$"UPDATE baseline_conflict SET name = 'fu-b' WHERE id = {Ac}"],
            [Txn($"SELECT name FROM baseline_conflict WHERE id = {Ac} FOR KEY SHARE"), Txn($"DELETE FROM baseline_conflict WHERE id = {Ac}")],
            WinnerFirst(0),
            $"SELECT name FROM baseline_conflict WHERE id = {Ac}", "fu-b"),

        // DSQL: A deletes the parent and commits first; B's INSERT of a child referencing it fails at COMMIT.
        // Emulator: the same; B's foreign-key check meets A's lock on the parent row, the INSERT is answered
        // INSERT 0 1.
        ["occ_fk_delete_insert"] = new(
            [],
            [Txn($"DELETE FROM baseline_conflict WHERE id = {Ab}"),
             Txn($"INSERT INTO baseline_conflict_child (id, parent_id) VALUES ('00000000-0000-0000-0000-0000000000b0', {Ab})")],
            WinnerFirst(0),
            $"SELECT (SELECT count(*) FROM baseline_conflict WHERE id = {Ab}) || '/' || (SELECT count(*) FROM baseline_conflict_child)", "0/0"),

        // No conflict on DSQL or PostgreSQL: a non-key UPDATE takes FOR NO KEY UPDATE, which the foreign-key check's
        // FOR KEY SHARE does not wait for.
        ["occ_fk_nonkey_update"] = new(
            [],
            [Txn($"UPDATE baseline_conflict SET name = 'nk' WHERE id = {Af}"),
             Txn($"INSERT INTO baseline_conflict_child (id, parent_id) VALUES ('00000000-0000-0000-0000-0000000000b1', {Af})")],
            SideBySide,
            $"SELECT (SELECT name FROM baseline_conflict WHERE id = {Af}) || '/' || (SELECT count(*) FROM baseline_conflict_child)", "nk/1"),

        // No conflict: different rows.
        ["occ_disjoint_writes"] = new(
            [],
            [Txn($"UPDATE baseline_conflict SET name = 'dw-a' WHERE id = {Ad}"), Txn($"UPDATE baseline_conflict SET name = 'dw-b' WHERE id = {Ae}")],
            SideBySide,
            $"SELECT string_agg(name, '/' ORDER BY id) FROM baseline_conflict WHERE id IN ({Ad}, {Ae})", "dw-a/dw-b"),
    };

    public static IEnumerable<object[]> ConcurrentCases() =>
        from file in ConformanceFile.LoadAll()
        from c in file.Value.Cases
        where c.Sessions is not null
        select new object[] { file.Key, c.Name };

    [Theory]
    [MemberData(nameof(ConcurrentCases))]
    public async Task Replays_recorded_concurrent_case(string file, string name)
    {
        var recorded = ConformanceFile.Find(file, name);
        Assert.True(SessionScripts.TryGetValue(name, out var script), $"no replay script for the concurrent case {name}");
        var sessions = recorded.Sessions!;
        Assert.Equal(script.Sessions.Length, sessions.Count);

        await using var schema = await CaseSchema.CreateAsync(backend, script.Setup);
        await using var emulator = await backend.StartEmulatorAsync();
        var connections = new List<NpgsqlConnection>();
        try
        {
            foreach (var _ in script.Sessions)
                connections.Add(await EmulatorConnections.OpenAsync(emulator, extra: "Search Path=" + schema.Name));
            var observed = script.Sessions.Select(_ => new List<Observed>()).ToList();
            foreach (var (session, step) in script.Order)
            {
                Assert.Equal(step, observed[session].Count); // each session runs its steps in order
                observed[session].Add(await RunExtendedAsync(connections[session], script.Sessions[session][step]));
            }

            var problems = new List<string>();
            for (int s = 0; s < sessions.Count; s++)
            {
                var expected = sessions[s];
                var actual = observed[s];
                int recordedFailure = expected.FindIndex(o => o.IsError);
                int observedFailure = actual.FindIndex(o => o.Observation.IsError);
                string label = $"session {(char)('A' + s)}";
                if (recordedFailure < 0)
                {
                    // A recorded winner must commit, answering every step as DSQL did.
                    for (int i = 0; i < expected.Count; i++)
                        foreach (var problem in Compare(expected[i], actual[i], ignoreRows: false))
                            problems.Add($"{label} step {i + 1} `{script.Sessions[s][i]}`: {problem}\n    expected {expected[i]}\n    observed {actual[i]}");
                    continue;
                }

                // A recorded loser (DSQL: 40001 OC000 at COMMIT) must fail with the same error at COMMIT (before it
                // only where the emulator cannot answer the statement, see StatementTimeConflicts), and answer the
                // steps before its failure as DSQL did.
                Assert.Equal("40001", expected[recordedFailure].SqlState);
                Assert.Equal(ConflictMessage, expected[recordedFailure].Message);
                if (observedFailure < 0)
                {
                    problems.Add($"{label} committed, but DSQL failed it at step {recordedFailure + 1} with 40001 OC000: observed [{string.Join(" | ", actual)}]");
                    continue;
                }
                var failure = actual[observedFailure].Observation;
                bool early = observedFailure < recordedFailure && !StatementTimeConflicts.Contains(name);
                if (observedFailure > recordedFailure || early || failure.SqlState != "40001" || failure.Message != ConflictMessage)
                    problems.Add($"{label} failed at step {observedFailure + 1} with {failure}; DSQL failed it at step {recordedFailure + 1} with 40001 OC000");
                for (int i = 0; i < observedFailure; i++)
                    foreach (var problem in Compare(expected[i], actual[i], ignoreRows: false))
                        problems.Add($"{label} step {i + 1} `{script.Sessions[s][i]}`: {problem}\n    expected {expected[i]}\n    observed {actual[i]}");
                for (int i = observedFailure + 1; i < actual.Count; i++)
                {
                    // After an early failure the only step left is COMMIT, which ends the failed transaction.
                    if (actual[i].Observation.IsError) problems.Add($"{label} step {i + 1} `{script.Sessions[s][i]}` failed again: {actual[i]}");
                }
            }

            await using (var direct = backend.OpenDirect())
            {
                await using var check = new NpgsqlCommand($"SET search_path TO {schema.Name}; {script.FinalStateQuery}", direct);
                string? state = (string?)await check.ExecuteScalarAsync();
                if (state != script.FinalState) problems.Add($"final state \"{state}\" instead of \"{script.FinalState}\" ({script.FinalStateQuery})");
            }

            Assert.True(problems.Count == 0, $"{file} / {name} differs from DSQL:\n" + string.Join("\n", problems));
        }
        finally
        {
            foreach (var connection in connections) await connection.DisposeAsync();
        }
    }

    // ------------------------------------------------------------------ fixture

    /// <summary>A fresh schema with the recorder's fixture tables, dropped afterwards.</summary>
    private sealed class CaseSchema : IAsyncDisposable
    {
        private readonly BackendFixture _backend;

        private CaseSchema(BackendFixture backend, string name)
        {
            _backend = backend;
            Name = name;
        }

        public string Name { get; }

        public static async Task<CaseSchema> CreateAsync(BackendFixture backend, IEnumerable<string> extra)
        {
            var schema = new CaseSchema(backend, EmulatorConnections.UniqueName("conformance"));
            var sql = new StringBuilder()
                .Append("CREATE SCHEMA ").Append(schema.Name).Append(";\n")
                .Append("SET search_path TO ").Append(schema.Name).Append(";\n")
                .Append("""
                    CREATE TABLE baseline_parent (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL);
                    INSERT INTO baseline_parent (id, name) VALUES ('00000000-0000-0000-0000-0000000000aa', 'parent');
                    CREATE TABLE baseline_bulk (id int);
                    CREATE TABLE baseline_implicit_bulk (id int);
                    CREATE TABLE baseline_alter (id int PRIMARY KEY, a text, b int);
                    CREATE TABLE baseline_multi (id int, a int);
                    CREATE TABLE baseline_conflict (id uuid PRIMARY KEY, name text NOT NULL);
                    CREATE TABLE baseline_conflict_child (id uuid PRIMARY KEY, parent_id uuid NOT NULL REFERENCES baseline_conflict (id));
                    INSERT INTO baseline_conflict (id, name) VALUES
                      ('00000000-0000-0000-0000-0000000000ab', 'conflict-fk'),
                      ('00000000-0000-0000-0000-0000000000ac', 'conflict-row'),
                      ('00000000-0000-0000-0000-0000000000ad', 'disjoint-a'),
                      ('00000000-0000-0000-0000-0000000000ae', 'disjoint-b'),
                      ('00000000-0000-0000-0000-0000000000af', 'conflict-nonkey');

                    """);
            foreach (var statement in extra) sql.Append(statement).Append(";\n");
            // Created as admin, as a user of DSQL would create them: admin is not a superuser.
            await using var direct = backend.OpenDirect(role: "admin");
            await using var command = new NpgsqlCommand(sql.ToString(), direct);
            await command.ExecuteNonQueryAsync();
            return schema;
        }

        public async ValueTask DisposeAsync()
        {
            await using var direct = _backend.OpenDirect();
            await using var command = new NpgsqlCommand($"DROP SCHEMA {Name} CASCADE", direct);
            await command.ExecuteNonQueryAsync();
        }
    }
}
