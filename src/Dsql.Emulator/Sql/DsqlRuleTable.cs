namespace Dsql.Emulator.Sql;

/// <summary>Where in a statement a rule looks.</summary>
internal enum RuleScope : byte
{
    /// <summary>The pattern is matched from the statement's first token (<see cref="TokenPattern"/>).</summary>
    Statement,
    /// <summary>The pattern is matched at every token (a clause that can appear anywhere, e.g. <c>FOR SHARE</c>).</summary>
    Clause,
    /// <summary>The pattern lists function names (<c>a|b</c>, <c>prefix*</c>) refused where they are called.</summary>
    Function,
    /// <summary>A column's data type (CREATE TABLE, ALTER TABLE ADD COLUMN, CREATE DOMAIN); the pattern names a <see cref="DsqlTypeSupport"/> or <c>array</c>.</summary>
    ColumnType,
    /// <summary>A type in a cast (<c>::t</c>, <c>CAST(x AS t)</c>) or a typed literal (<c>t '...'</c>) or a constructor call.</summary>
    CastType,
    /// <summary>A named check that needs more than a pattern (its code is in <see cref="StatementRules"/>).</summary>
    Check,
    /// <summary>Not a refusal: a value DSQL answers differently from the backend (the message is DSQL's value).</summary>
    Answer,
}

/// <summary>
/// One row of DSQL's SQL surface: what it matches, the SQLSTATE and the exact message DSQL answers, and where the
/// fact comes from. Messages may hold placeholders (<c>{type}</c>, <c>{name}</c>, <c>{language}</c>,
/// <c>{action}</c>, <c>{level}</c>, <c>{kind}</c>) filled from the statement.
/// </summary>
internal sealed class DsqlRule
{
    public DsqlRule(string id, RuleScope scope, string match, string sqlState, string message, string source)
    {
        Id = id;
        Scope = scope;
        Match = match;
        SqlState = sqlState;
        Message = message;
        Source = source;
        Pattern = scope is RuleScope.Statement or RuleScope.Clause ? TokenPattern.Parse(match) : null;
        if (scope == RuleScope.Function)
        {
            Names = match.Split('|');
        }
    }

    public string Id { get; }
    public RuleScope Scope { get; }
    public string Match { get; }
    public string SqlState { get; }
    public string Message { get; }
    public string Source { get; }
    public TokenPattern? Pattern { get; }
    public string[] Names { get; } = [];

    /// <summary>The refusal with placeholders filled in.</summary>
    public DsqlRejection Reject(string? placeholder = null, string? value = null)
    {
        string message = placeholder is null ? Message : Message.Replace("{" + placeholder + "}", value, StringComparison.Ordinal);
        return new DsqlRejection(SqlState, message, Id);
    }

    /// <summary>True when <paramref name="name"/> is one of the function names (or prefixes ending in <c>*</c>).</summary>
    public bool NamesFunction(ReadOnlySpan<char> name)
    {
        foreach (string n in Names)
        {
            if (n.EndsWith('*') ? name.StartsWith(n.AsSpan(0, n.Length - 1), StringComparison.OrdinalIgnoreCase)
                    : name.Equals(n, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>
/// DSQL's SQL surface as one table. Each row is a fact: what DSQL refuses, with which SQLSTATE and message, and the
/// source of the fact. Sources:
/// <list type="bullet">
/// <item><c>recorded:</c> answered by a real cluster (the probes in tests/Dsql.Emulator.Tests/Conformance, or the
/// rule list Dreamescaper/dsql-emulator publishes under an MIT licence, <c>rules/dsql-2026.09.yaml</c>).</item>
/// <item><c>guide:</c> a page of AWS's Aurora DSQL user guide.</item>
/// <item><c>derived:</c> DSQL's wording for a family applied to a member not recorded (e.g. "unsupported statement:
/// X" names PostgreSQL's parse node for the statement). These are the rows most likely to differ from DSQL.</item>
/// </list>
/// Rows are tried in order within a scope: statements first, then column types, checks, clauses, functions and casts.
/// </summary>
internal static class DsqlRuleTable
{
    public const string FeatureNotSupported = "0A000";
    public const string UndefinedObject = "42704";

    private const string Probes = "recorded: conformance ";
    private const string Dreamescaper = "recorded: Dreamescaper/dsql-emulator rules/dsql-2026.09.yaml#";
    private const string Unsupported = "guide: working-with-postgresql-compatibility-unsupported-features";
    private const string NodeName = "derived: 'unsupported statement: <PostgreSQL parse node>' family";
    private const string DropFamily = "derived: 'unsupported object in DROP statement' (recorded for DROP TYPE)";
    private const string AlterTableGuide = "guide: alter-table-syntax-support (the supported actions); message family recorded for ADD/VALIDATE CONSTRAINT and SET DATA TYPE";

    public static readonly DsqlRule[] Rules =
    [
        // ---- transactions ---------------------------------------------------------------------------------
        S("savepoint", "SAVEPOINT", "unsupported transaction statement: SAVEPOINT", Probes + "transaction.json#savepoint"),
        S("release_savepoint", "RELEASE", "unsupported transaction statement: RELEASE", Dreamescaper + "release_savepoint"),
        S("rollback_to_savepoint", "ROLLBACK [WORK|TRANSACTION] TO", "unsupported transaction statement: ROLLBACK TO", Probes + "transaction.json#rollback_to_savepoint"),
        S("prepare_transaction", "PREPARE TRANSACTION '", "unsupported transaction statement: PREPARE TRANSACTION", "derived: two-phase commit is unsupported (shared facts), transaction statement family"),
        S("commit_prepared", "COMMIT PREPARED", "unsupported transaction statement: COMMIT PREPARED", "derived: as prepare_transaction"),
        S("rollback_prepared", "ROLLBACK PREPARED", "unsupported transaction statement: ROLLBACK PREPARED", "derived: as prepare_transaction"),
        C("isolation_level", "begin/start/set transaction isolation level", "Unsupported isolation level: {level}", Probes + "isolation.json#begin_serializable"),
        C("set_transaction", "set transaction / session characteristics", "setting configuration parameter \"TRANSACTION\" not supported", Probes + "isolation.json#set_transaction_repeatable_read"),
        C("set_parameter", "SET / RESET of a parameter DSQL does not let sessions set", "setting configuration parameter \"{name}\" not supported", Probes + "isolation.json#set_default_isolation; shared facts (settable: client_encoding, DateStyle, extra_float_digits, IntervalStyle, TimeZone, search_path)"),

        // ---- statements DSQL does not have ------------------------------------------------------------------
        S("truncate", "TRUNCATE", "unsupported statement: Truncate", Probes + "unsupported.json#truncate"),
        S("vacuum", "VACUUM", "unsupported VACUUM statement", Probes + "unsupported.json#vacuum"),
        S("listen", "LISTEN", "unsupported statement: Listen", Probes + "unsupported.json#listen"),
        S("notify", "NOTIFY", "unsupported statement: Notify", Probes + "unsupported.json#notify"),
        S("unlisten", "UNLISTEN", "unsupported statement: Unlisten", Probes + "unsupported.json#unlisten"),
        S("alter_system", "ALTER SYSTEM", "unsupported statement: AlterSystem", Probes + "unsupported.json#alter_system"),
        S("merge", "MERGE", "unsupported statement type: MERGE", Dreamescaper + "merge"),
        S("lock", "LOCK", "unsupported statement: Lock", NodeName + "; LOCK is unsupported (shared facts)"),
        S("do", "DO", "unsupported statement: Do", NodeName + "; PL/pgSQL is unsupported"),
        S("discard", "DISCARD", "unsupported statement: Discard", NodeName + "; DISCARD is unsupported (shared facts)"),
        S("declare_cursor", "DECLARE", "unsupported statement: DeclareCursor", NodeName + "; cursors are unsupported (shared facts)"),
        S("fetch", "FETCH|MOVE", "unsupported statement: Fetch", NodeName + " (MOVE is a FetchStmt)"),
        S("close", "CLOSE", "unsupported statement: ClosePortal", NodeName),
        S("prepare", "PREPARE", "unsupported statement: Prepare", NodeName + "; SQL-level PREPARE is unsupported (shared facts)"),
        S("execute", "EXECUTE", "unsupported statement: Execute", NodeName),
        S("deallocate", "DEALLOCATE [PREPARE] !ALL", "unsupported statement: Deallocate", NodeName + "; only DEALLOCATE ALL works (shared facts)"),
        S("cluster", "CLUSTER", "unsupported statement: Cluster", NodeName),
        S("reindex", "REINDEX", "unsupported statement: Reindex", NodeName),
        S("checkpoint", "CHECKPOINT", "unsupported statement: CheckPoint", NodeName),
        S("load", "LOAD", "unsupported statement: Load", NodeName),
        S("refresh_materialized_view", "REFRESH MATERIALIZED VIEW", "unsupported statement: RefreshMatView", NodeName),
        S("import_foreign_schema", "IMPORT FOREIGN SCHEMA", "unsupported statement: ImportForeignSchema", NodeName),
        S("show_lc_collate", "SHOW lc_collate", "unrecognized configuration parameter \"lc_collate\"", Probes + "environment.json#env_lc_collate", UndefinedObject),
        S("show_lc_ctype", "SHOW lc_ctype", "unrecognized configuration parameter \"lc_ctype\"", "derived: PostgreSQL 16 (DSQL's base) has no lc_ctype setting, as env_lc_collate", UndefinedObject),
        C("copy_file", "COPY to or from a file or a program", "unsupported statement: Copy to or from a file or program", "shared facts: only COPY FROM STDIN / TO STDOUT"),
        C("select_into", "SELECT ... INTO (CREATE TABLE AS in disguise)", "unsupported statement: CreateTableAs", Probes + "unsupported.json#create_table_as"),

        // ---- CREATE ---------------------------------------------------------------------------------------
        S("temporary_view", "CREATE [OR REPLACE] [GLOBAL|LOCAL] TEMP|TEMPORARY [RECURSIVE] VIEW", "TEMPORARY or TEMP table not supported for CREATE VIEW", "derived: temporary_table wording for views"),
        S("temporary_sequence", "CREATE [GLOBAL|LOCAL] TEMP|TEMPORARY SEQUENCE", "TEMPORARY or TEMP table not supported for CREATE SEQUENCE", "derived: temporary_table wording for sequences"),
        S("temporary_table", "CREATE [GLOBAL|LOCAL] TEMP|TEMPORARY", "TEMPORARY or TEMP table not supported for CREATE TABLE", Probes + "unsupported.json#temporary_table"),
        S("unlogged_sequence", "CREATE UNLOGGED SEQUENCE", "UNLOGGED table not supported for CREATE SEQUENCE", "derived: unlogged_table wording for sequences"),
        S("unlogged_table", "CREATE UNLOGGED", "UNLOGGED table not supported for CREATE TABLE", Probes + "unsupported.json#unlogged_table"),
        S("trigger", "CREATE [OR REPLACE] [CONSTRAINT] TRIGGER", "CREATE TRIGGER not supported", Probes + "unsupported.json#create_trigger"),
        S("event_trigger", "CREATE EVENT TRIGGER", "unsupported statement: CreateEventTrig", NodeName),
        S("create_table_as", "CREATE TABLE [IF NOT EXISTS] ~ ...AS", "unsupported statement: CreateTableAs", Probes + "unsupported.json#create_table_as"),
        S("partitioned_table", "CREATE TABLE [IF NOT EXISTS] ~ ...PARTITION", "unsupported statement: partitioned tables", Unsupported + " (partitions; wording not recorded)"),
        S("inherited_table", "CREATE TABLE [IF NOT EXISTS] ~ ...INHERITS", "unsupported statement: table inheritance", Unsupported + " (INHERITS; wording not recorded)"),
        S("table_tablespace", "CREATE TABLE [IF NOT EXISTS] ~ ...TABLESPACE", "unsupported statement: CreateTableSpace", "derived: tablespace wording (tablespaces are unsupported)"),
        S("materialized_view", "CREATE MATERIALIZED VIEW", "unsupported statement: CreateTableAs", Probes + "unsupported.json#materialized_view"),
        S("index_without_async", "CREATE [UNIQUE] INDEX !ASYNC", "unsupported mode. please use CREATE INDEX ASYNC.", Dreamescaper + "sync_index; guide: working-with-create-index-async"),
        S("extension", "CREATE EXTENSION", "unsupported statement: CreateExtension", Probes + "unsupported.json#create_extension"),
        S("database", "CREATE DATABASE", "unsupported statement: Createdb", Probes + "unsupported.json#create_database"),
        S("tablespace", "CREATE TABLESPACE", "unsupported statement: CreateTableSpace", Probes + "unsupported.json#tablespace"),
        S("foreign_table", "CREATE FOREIGN TABLE", "unsupported statement: CreateForeignTable", Probes + "unsupported.json#foreign_table"),
        S("foreign_data_wrapper", "CREATE FOREIGN DATA WRAPPER", "unsupported statement: CreateFdw", NodeName),
        S("foreign_server", "CREATE SERVER", "unsupported statement: CreateForeignServer", NodeName),
        S("user_mapping", "CREATE USER MAPPING", "unsupported statement: CreateUserMapping", NodeName),
        S("publication", "CREATE PUBLICATION", "unsupported statement: CreatePublication", NodeName),
        S("subscription", "CREATE SUBSCRIPTION", "unsupported statement: CreateSubscription", NodeName),
        S("rule", "CREATE [OR REPLACE] RULE", "unsupported statement: Rule", NodeName),
        S("cast", "CREATE CAST", "unsupported statement: CreateCast", NodeName),
        S("conversion", "CREATE [DEFAULT] CONVERSION", "unsupported statement: CreateConversion", NodeName),
        S("language", "CREATE [OR REPLACE] [TRUSTED] [PROCEDURAL] LANGUAGE", "unsupported statement: CreatePLang", NodeName),
        S("access_method", "CREATE ACCESS METHOD", "unsupported statement: CreateAm", NodeName),
        S("operator_class", "CREATE OPERATOR CLASS", "unsupported statement: CreateOpClass", NodeName),
        S("operator_family", "CREATE OPERATOR FAMILY", "unsupported statement: CreateOpFamily", NodeName),
        S("transform", "CREATE [OR REPLACE] TRANSFORM", "unsupported statement: CreateTransform", NodeName),
        S("define", "CREATE [OR REPLACE] OPERATOR|AGGREGATE|COLLATION|TEXT", "unsupported statement: Define", NodeName + " (DefineStmt: operators, aggregates, collations, text search objects)"),
        S("enum_type", "CREATE TYPE ~ AS ENUM", "CREATE TYPE not supported", Probes + "unsupported.json#enum_type"),
        S("composite_type", "CREATE TYPE ~ AS (", "unsupported statement: CompositeType", Probes + "unsupported.json#composite_type"),
        S("range_type", "CREATE TYPE ~ AS RANGE", "unsupported statement: CreateRange", Probes + "unsupported.json#range_type"),
        S("create_type", "CREATE TYPE", "CREATE TYPE not supported", "derived: enum_type wording for base and shell types"),
        C("function_language", "CREATE FUNCTION|PROCEDURE ... LANGUAGE other than sql", "CREATE {kind} with language {language} not supported", Probes + "unsupported.json#create_function_plpgsql"),
        C("sequence_cache", "CREATE SEQUENCE without CACHE 1 or CACHE >= 65536", "CREATE SEQUENCE is not supported without an explicit cache size. please define CACHE greater than or equal to 65536 or equal to 1", Dreamescaper + "sequence_cache; guide: create-sequence-syntax-support"),

        // ---- ALTER / DROP ---------------------------------------------------------------------------------
        S("alter_extension", "ALTER EXTENSION", "unsupported statement: AlterExtension", NodeName),
        S("alter_enum", "ALTER TYPE ~ ADD|RENAME VALUE", "ALTER TYPE not supported", Dreamescaper + "alter_enum"),
        S("rename_type", "ALTER TYPE ~ RENAME", "unsupported object in RENAME statement", Dreamescaper + "rename_type"),
        S("alter_type", "ALTER TYPE", "ALTER TYPE not supported", "derived: alter_enum wording for the other ALTER TYPE forms"),
        S("drop_type", "DROP TYPE", "unsupported object in DROP statement", Dreamescaper + "drop_type"),
        S("drop_database", "DROP DATABASE", "unsupported statement: Dropdb", NodeName),
        S("drop_tablespace", "DROP TABLESPACE", "unsupported statement: DropTableSpace", NodeName),
        S("drop_subscription", "DROP SUBSCRIPTION", "unsupported statement: DropSubscription", NodeName),
        S("drop_user_mapping", "DROP USER MAPPING", "unsupported statement: DropUserMapping", NodeName),
        S("drop_object", "DROP EXTENSION|TRIGGER|RULE|COLLATION|CONVERSION|AGGREGATE|CAST|TRANSFORM|PUBLICATION|SERVER|OPERATOR|ACCESS", "unsupported object in DROP statement", DropFamily),
        S("drop_object_two_words", "DROP MATERIALIZED|FOREIGN|EVENT|TEXT|PROCEDURAL|LANGUAGE", "unsupported object in DROP statement", DropFamily),
        C("alter_add_column_constraint", "ALTER TABLE ... ADD COLUMN with a column constraint", "ALTER TABLE ADD COLUMN with constraint not supported", Probes + "backlog.json#alter_add_column_*"),
        C("alter_add_constraint", "ALTER TABLE ... ADD CHECK/FOREIGN KEY without NOT VALID, or PRIMARY KEY/UNIQUE/EXCLUDE (not USING INDEX)", "unsupported ALTER TABLE ADD CONSTRAINT statement", Dreamescaper + "alter_add_constraint_requires_not_valid, alter_add_key_constraint; guide: alter-table-syntax-support"),
        C("alter_validate_sync", "ALTER TABLE ... VALIDATE CONSTRAINT without ASYNC", "unsupported ALTER TABLE VALIDATE CONSTRAINT statement", Dreamescaper + "alter_validate_requires_async"),
        C("alter_table_action", "ALTER TABLE with an action DSQL's ALTER TABLE does not list", "unsupported ALTER TABLE {action} statement", AlterTableGuide),
        C("drop_primary_key_column", "ALTER TABLE ... DROP COLUMN of a primary-key column (checked in the backend, Backend/DdlGuards.cs)", "cannot drop primary key column {name}", "guide: alter-table-syntax-support and release notes (dropping a primary key column isn't supported); wording as Dreamescaper/dsql-emulator docker/init/05-alter-guard.sql quotes DSQL"),
        C("identity_cache", "identity column without CACHE 1 or CACHE >= 65536", "identity column is not supported without an explicit cache size. please define CACHE greater than or equal to 65536 or equal to 1", Dreamescaper + "identity_cache"),
        C("identity_type", "identity column of a type other than bigint", "datatype {type} not supported, identity column type must be bigint", Dreamescaper + "identity_type"),

        // ---- data types -----------------------------------------------------------------------------------
        T("serial_type", "serial", "type \"{type}\" does not exist", Probes + "unsupported.json#serial_column", UndefinedObject),
        T("array_column", "array", "datatype {type} not supported", Dreamescaper + "array_column; guide: supported data types (arrays are query runtime only)"),
        T("unsupported_column_type", "unsupported|runtime", "datatype {type} not supported", Dreamescaper + "unsupported_type; guide: supported data types (an allow-list)"),
        new("unsupported_cast_type", RuleScope.CastType, "unsupported", FeatureNotSupported, "datatype {type} not supported", "guide: supported data types; shared facts (refused wherever the type appears)"),

        // ---- clauses and functions anywhere ---------------------------------------------------------------
        new("locking_for_share", RuleScope.Clause, "FOR SHARE", FeatureNotSupported, "locking clauses other than FOR UPDATE/FOR KEY SHARE are not supported", Probes + "occ.json#occ_for_share"),
        new("locking_for_no_key_update", RuleScope.Clause, "FOR NO KEY UPDATE", FeatureNotSupported, "locking clauses other than FOR UPDATE/FOR KEY SHARE are not supported", Probes + "occ.json#occ_for_no_key_update"),
        new("tablesample", RuleScope.Clause, "TABLESAMPLE", FeatureNotSupported, "TABLESAMPLE clause not supported", Dreamescaper + "tablesample"),
        new("advisory_lock", RuleScope.Function, "pg_advisory_*|pg_try_advisory_*", FeatureNotSupported, "function {name} not supported", "shared facts: advisory locks fail 0A000"),
        new("text_search_configuration", RuleScope.Function, "to_tsvector|to_tsquery|plainto_tsquery|phraseto_tsquery|websearch_to_tsquery|ts_headline|json_to_tsvector|jsonb_to_tsvector", UndefinedObject, "text search configuration \"{name}\" does not exist", Dreamescaper + "unsupported_text_search (DSQL has no text search configurations; the default is english)"),
        new("lc_setting", RuleScope.Function, "current_setting", UndefinedObject, "unrecognized configuration parameter \"{name}\"", "derived: env_lc_collate for current_setting('lc_collate' | 'lc_ctype')"),
        new("server_version", RuleScope.Answer, "SHOW server_version", "00000", "16.15", Probes + "environment.json#env_server_version"),
        new("server_version_num", RuleScope.Answer, "SHOW server_version_num", "00000", "160015", Probes + "environment.json#env_show_server_version_num"),
        new("server_version_setting", RuleScope.Function, "current_setting", "00000", "current_setting('server_version' | 'server_version_num') answers DSQL's value", Probes + "environment.json#env_server_version_setting, env_server_version_num"),
        new("unsupported_constructor", RuleScope.Function, "point|line|lseg|box|path|polygon|circle|int4range|int8range|numrange|tsrange|tstzrange|daterange|int4multirange|int8multirange|nummultirange|tsmultirange|tstzmultirange|datemultirange", FeatureNotSupported, "datatype {type} not supported", Dreamescaper + "unsupported_geometry (constructors of types DSQL lacks)"),
    ];

    private static readonly Dictionary<string, DsqlRule> ById = Rules.ToDictionary(r => r.Id, StringComparer.Ordinal);

    private static readonly Dictionary<string, DsqlRule[]> StatementRulesByFirstWord = Rules
        .Where(r => r.Scope == RuleScope.Statement)
        .SelectMany(r => r.Pattern!.FirstWords.Select(w => (Word: w, Rule: r)))
        .GroupBy(x => x.Word, StringComparer.OrdinalIgnoreCase)
        .ToDictionary(g => g.Key, g => g.Select(x => x.Rule).ToArray(), StringComparer.OrdinalIgnoreCase);

    /// <summary>The backend function that answers <c>SHOW</c> of an <see cref="RuleScope.Answer"/> setting.</summary>
    public const string ShowFunction = "pg_catalog.dsql_emulator_show";

    /// <summary>Prefix of the backend settings that hold DSQL's answers (<c>dsql_emulator.server_version</c>).</summary>
    public const string AnswerSettingPrefix = "dsql_emulator.";

    /// <summary>The settings DSQL answers differently from the backend, with DSQL's values.</summary>
    public static IEnumerable<(string Name, string Value)> Answers =>
        Rules.Where(r => r.Scope == RuleScope.Answer).Select(r => (r.Id, r.Message));

    /// <summary>For a setting DSQL answers itself, the backend setting that holds DSQL's value; else null.</summary>
    public static string? AnsweredSetting(string name)
    {
        foreach (var rule in Rules)
        {
            if (rule.Scope == RuleScope.Answer && string.Equals(rule.Id, name, StringComparison.OrdinalIgnoreCase))
            {
                return AnswerSettingPrefix + rule.Id;
            }
        }

        return null;
    }

    /// <summary>The rule with this id (every id the checks use exists: a test proves it).</summary>
    public static DsqlRule Get(string id) => ById[id];

    /// <summary>Statement rules whose pattern starts with the statement's first keyword, in table order.</summary>
    public static DsqlRule[] StatementRulesFor(ReadOnlySpan<char> firstWord)
    {
        var lookup = StatementRulesByFirstWord;
        foreach (var (word, rules) in lookup)
        {
            if (firstWord.Equals(word, StringComparison.OrdinalIgnoreCase))
            {
                return rules;
            }
        }

        return [];
    }

    /// <summary>Rules of one scope, in table order.</summary>
    public static IEnumerable<DsqlRule> InScope(RuleScope scope) => Rules.Where(r => r.Scope == scope);

    private static DsqlRule S(string id, string pattern, string message, string source, string sqlState = FeatureNotSupported) =>
        new(id, RuleScope.Statement, pattern, sqlState, message, source);

    private static DsqlRule C(string id, string description, string message, string source, string sqlState = FeatureNotSupported) =>
        new(id, RuleScope.Check, description, sqlState, message, source);

    private static DsqlRule T(string id, string match, string message, string source, string sqlState = FeatureNotSupported) =>
        new(id, RuleScope.ColumnType, match, sqlState, message, source);
}
