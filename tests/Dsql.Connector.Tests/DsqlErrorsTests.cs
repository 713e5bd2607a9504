using System.IO;
using Npgsql;

namespace Dsql.Connector.Tests;

/// <summary>
/// DsqlErrors and the typed exceptions, over the messages a real DSQL cluster answered (shared conformance
/// recordings) and the ones DSQL documents.
/// </summary>
public sealed class DsqlErrorsTests
{
    private static PostgresException Pg(string sqlState, string message) => new(message, "ERROR", "ERROR", sqlState);

    // ---- limits ---------------------------------------------------------------------------------------------

    public static TheoryData<string, string, DsqlLimit, string, string> LimitCases => new()
    {
        // sqlstate, server message, limit, expected LimitDescription, advice key phrase
        { "54000", "transaction row limit exceeded", DsqlLimit.RowsPerTransaction, "3,000 rows modified per transaction", "batches of at most 3,000 rows" },
        { "54000", "transaction size limit 10mb exceeded", DsqlLimit.TransactionSize, "10 MiB of data modified per transaction", "less than 10 MiB" },
        { "54000", "transaction age limit of 300s exceeded", DsqlLimit.TransactionAge, "300 s per transaction", "split long work" },
        { "54000", "transaction age limit of 5s exceeded", DsqlLimit.TransactionAge, "5 s per transaction", "well within 5 s" },
        { "54000", "maximum row size exceeded", DsqlLimit.RowSize, "2 MiB per row", "Amazon S3" },
        { "54000", "key size too large", DsqlLimit.KeySize, "1 KiB per key", "Amazon S3" },
        { "54000", "maximum column size exceeded", DsqlLimit.ColumnSize, "1 MiB per column value", "Amazon S3" },
        { "54000", "some new DSQL limit exceeded", DsqlLimit.Other, "a DSQL quota (see the server's message)", "quotas and limits" },
        { "53400", "Unable to accept connection, rate exceeded.", DsqlLimit.ConnectionRate, "100 new connections per second per cluster (burst 1,000)", "Connection Rate Per Second" },
        { "53300", "Unable to accept connection, too many open connections.", DsqlLimit.OpenConnections, "10,000 open connections per cluster", "Maximum Pool Size" },
        { "53200", "query requires too much temp space, out of memory.", DsqlLimit.QueryMemory, "128 MiB of memory per query", "paginate" },
        { "54011", "tables can have at most 1600 columns", DsqlLimit.ColumnsPerTable, "1,600 columns per table", "split the table" },
        { "54011", "too many columns in table", DsqlLimit.ColumnsPerTable, "255 columns per table", "fewer columns" },
        { "54011", "cannot use more than 32 columns in an index", DsqlLimit.ColumnsPerIndex, "32 columns per index", "at most 32 columns per index" },
        { "54011", "too many columns in index", DsqlLimit.ColumnsPerIndex, "8 columns per index", "at most 8 columns per index" },
    };

    [Theory]
    [MemberData(nameof(LimitCases))]
    public void Translate_turns_quota_errors_into_DsqlLimitExceededException(
        string sqlState, string message, DsqlLimit limit, string description, string advice)
    {
        var server = Pg(sqlState, message);

        var translated = DsqlErrors.Translate(server);

        var typed = Assert.IsType<DsqlLimitExceededException>(translated);
        Assert.Equal(limit, typed.Limit);
        Assert.Equal(description, typed.LimitDescription);
        Assert.Equal(sqlState, typed.SqlState);
        Assert.Same(server, typed.PostgresException);
        Assert.Same(server, typed.InnerException);
        Assert.Contains(advice, typed.Message, StringComparison.Ordinal);
        Assert.EndsWith($"({sqlState}: {message})", typed.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<NpgsqlException>(typed);
    }

    [Fact]
    public void Row_limit_message_reads_as_documented()
    {
        var typed = Assert.IsType<DsqlLimitExceededException>(
            DsqlErrors.Translate(Pg("54000", "transaction row limit exceeded")));

        Assert.Equal(
            "The transaction modified more than 3,000 rows, DSQL's limit per transaction. Write in batches of at most " +
            "3,000 rows, each in its own transaction. (54000: transaction row limit exceeded)",
            typed.Message);
    }

    [Theory]
    [InlineData("transaction size limit 20mb exceeded", "20 MiB of data modified per transaction")]
    [InlineData("transaction size limit 512kb exceeded", "512 KiB of data modified per transaction")]
    [InlineData("transaction size limit exceeded", "10 MiB of data modified per transaction")]
    public void Transaction_size_is_read_from_the_message_when_present(string message, string description)
    {
        var typed = Assert.IsType<DsqlLimitExceededException>(DsqlErrors.Translate(Pg("54000", message)));
        Assert.Equal(DsqlLimit.TransactionSize, typed.Limit);
        Assert.Equal(description, typed.LimitDescription);
    }

    [Theory]
    [InlineData("transaction age limit of 2 minutes exceeded", "120 s per transaction")]
    [InlineData("transaction age limit of 1500ms exceeded", "1.5 s per transaction")]
    [InlineData("transaction age limit exceeded", "300 s per transaction")]
    public void Transaction_age_is_read_from_the_message_when_present(string message, string description)
    {
        var typed = Assert.IsType<DsqlLimitExceededException>(DsqlErrors.Translate(Pg("54000", message)));
        Assert.Equal(DsqlLimit.TransactionAge, typed.Limit);
        Assert.Equal(description, typed.LimitDescription);
    }

    // ---- unsupported features -------------------------------------------------------------------------------

    public static TheoryData<string, string, string> UnsupportedCases => new()
    {
        // sqlstate, server message (recorded on a real cluster unless noted), advice key phrase
        { "0A000", "ddl and dml are not supported in the same transaction", "DDL in its own transaction" },
        { "0A000", "multiple ddl statements not supported in a transaction", "one DDL statement per transaction" },
        { "0A000", "Unsupported isolation level: SERIALIZABLE", "BeginTransaction(IsolationLevel.RepeatableRead)" },
        { "0A000", "Unsupported isolation level: READ COMMITTED", "ExecuteInTransactionAsync" },
        { "0A000", "setting configuration parameter \"TRANSACTION\" not supported", "BEGIN ISOLATION LEVEL REPEATABLE READ" },
        { "0A000", "setting configuration parameter \"default_transaction_isolation\" not supported", "client_encoding, DateStyle, extra_float_digits, IntervalStyle, TimeZone and search_path" },
        { "0A000", "setting configuration parameter \"statement_timeout\" not supported", "can be SET" },
        { "0A000", "unsupported transaction statement: SAVEPOINT", "no savepoints" },
        { "0A000", "unsupported transaction statement: ROLLBACK TO", "retry the whole transaction" },
        { "0A000", "unsupported transaction statement: RELEASE", "no savepoints" },
        { "0A000", "unsupported statement: Truncate", "batches of at most 3,000 rows" },
        { "0A000", "TEMPORARY or TEMP table not supported for CREATE TABLE", "regular tables" },
        { "0A000", "UNLOGGED table not supported for CREATE TABLE", "regular tables" },
        { "42704", "type \"serial\" does not exist", "GENERATED BY DEFAULT AS IDENTITY" },
        { "42704", "type \"bigserial\" does not exist", "gen_random_uuid()" },
        { "0A000", "ALTER TABLE ADD COLUMN with constraint not supported", "then backfill" },
        { "0A000", "locking clauses other than FOR UPDATE/FOR KEY SHARE are not supported", "FOR UPDATE and FOR KEY SHARE" },
        { "0A000", "CREATE INDEX on a table with rows is not supported; use CREATE INDEX ASYNC", "sys.wait_for_job" },
        { "0A000", "unsupported mode. please use CREATE INDEX ASYNC.", "sys.wait_for_job" },
        { "0A000", "identity column is not supported without an explicit cache size. please define CACHE greater than or equal to 65536 or equal to 1", "CACHE 65536" },
        { "0A000", "datatype integer not supported, identity column type must be bigint", "as bigint" },
        { "0A000", "CREATE SEQUENCE is not supported without an explicit cache size. please define CACHE greater than or equal to 65536 or equal to 1", "explicit cache" },
        { "0A000", "datatype integer[] not supported", "no array columns" },
        { "0A000", "datatype money not supported", "a type DSQL supports" },
        { "0A000", "unsupported ALTER TABLE ADD CONSTRAINT statement", "NOT VALID" },
        { "0A000", "unsupported ALTER TABLE VALIDATE CONSTRAINT statement", "ALTER TABLE ASYNC" },
        { "0A000", "unsupported ALTER TABLE ALTER COLUMN ... SET DATA TYPE statement", "backfill" },
        { "0A000", "unsupported statement type: MERGE", "ON CONFLICT" },
        { "0A000", "CREATE FUNCTION with language plpgsql not supported", "LANGUAGE sql" },
        { "0A000", "CREATE TRIGGER not supported", "Triggers are not available" },
        { "0A000", "unsupported statement: CreateExtension", "Extensions are not available" },
        { "0A000", "unsupported statement: CreateTableAs", "See DSQL's list of unsupported PostgreSQL features." },
        { "0A000", "unsupported VACUUM statement", "See DSQL's list of unsupported PostgreSQL features." },
        { "0A000", "unsupported statement: Listen", "See DSQL's list of unsupported PostgreSQL features." },
    };

    [Theory]
    [MemberData(nameof(UnsupportedCases))]
    public void Translate_turns_unsupported_features_into_DsqlUnsupportedFeatureException(
        string sqlState, string message, string advice)
    {
        var server = Pg(sqlState, message);

        var typed = Assert.IsType<DsqlUnsupportedFeatureException>(DsqlErrors.Translate(server));

        Assert.Equal(sqlState, typed.SqlState);
        Assert.Contains(advice, typed.Advice, StringComparison.Ordinal);
        Assert.Equal($"DSQL does not support this: {message.TrimEnd('.')}. {typed.Advice}", typed.Message);
        Assert.Same(server, typed.PostgresException);
        Assert.Same(server, typed.InnerException);
    }

    [Fact]
    public void Repeatable_read_advice_explains_why_parameterless_BeginTransaction_fails()
    {
        var typed = Assert.IsType<DsqlUnsupportedFeatureException>(
            DsqlErrors.Translate(Pg("0A000", "Unsupported isolation level: SERIALIZABLE")));
        Assert.Contains("REPEATABLE READ only", typed.Advice, StringComparison.Ordinal);
        Assert.Contains("READ COMMITTED", typed.Advice, StringComparison.Ordinal);
    }

    // ---- left alone -----------------------------------------------------------------------------------------

    public static TheoryData<Exception> Untranslated => new()
    {
        Pg("40001", "change conflicts with another transaction (OC000)"),
        Pg("40001", "schema has been updated by another transaction, please retry: (OC001)"),
        Pg("25P02", "current transaction is aborted, commands ignored until end of transaction block"),
        Pg("42704", "unrecognized configuration parameter \"lc_collate\""),
        Pg("42P01", "relation \"missing\" does not exist"),
        Pg("28000", "unable to accept connection, access denied"),
        new InvalidOperationException("wrapper", Pg("54000", "transaction row limit exceeded")),
        new NpgsqlException("Exception while reading from stream", new IOException("reset")),
        new TimeoutException(),
        new DsqlLimitExceededException(DsqlLimit.RowsPerTransaction, Pg("54000", "transaction row limit exceeded")),
        new DsqlUnsupportedFeatureException(Pg("0A000", "unsupported statement: Truncate")),
        new DsqlAmbiguousCommitException(new IOException("reset")),
    };

    [Theory]
    [MemberData(nameof(Untranslated))]
    public void Translate_returns_anything_else_unchanged(Exception exception)
        => Assert.Same(exception, DsqlErrors.Translate(exception));

    // ---- conflicts ------------------------------------------------------------------------------------------

    private static readonly PostgresException Oc000 = Pg("40001", "change conflicts with another transaction (OC000)");

    public static TheoryData<Exception, bool> ConflictCases => new()
    {
        { Pg("40001", "change conflicts with another transaction (OC000)"), true },
        { Pg("40001", "mutation conflicts with another transaction, retry as needed (OC000)"), true },
        { Pg("40001", "schema has been updated by another transaction, please retry: (OC001)"), true },
        { new InvalidOperationException("outer", Oc000), true },
        { new InvalidOperationException("outer", new NpgsqlException("middle", Oc000)), true },
        { new AggregateException(new TimeoutException(), Oc000), true },
        { new InvalidOperationException("outer", new AggregateException(new InvalidOperationException("x", Oc000))), true },
        { Pg("40P01", "deadlock detected"), false },
        { Pg("54000", "transaction row limit exceeded"), false },
        { Pg("0A000", "unsupported statement: Truncate"), false },
        { new InvalidOperationException("no server error"), false },
        { new AggregateException(), false },
        { new DsqlAmbiguousCommitException(Oc000), false },
        { new DsqlAmbiguousCommitException(new IOException("reset", Oc000)), false },
        { new InvalidOperationException("outer", new DsqlAmbiguousCommitException(Oc000)), false },
        { new AggregateException(Oc000, new DsqlAmbiguousCommitException(new IOException("reset"))), false },
        { new DsqlTransactionConflictException(4, Oc000), false },
        { new InvalidOperationException("outer", new DsqlTransactionConflictException(4, Oc000)), false },
    };

    [Theory]
    [MemberData(nameof(ConflictCases))]
    public void IsConflict_finds_40001_through_wrappers_but_never_after_an_ambiguous_commit(Exception exception, bool expected)
        => Assert.Equal(expected, DsqlErrors.IsConflict(exception));

    [Fact]
    public void FindPostgresException_walks_inner_and_aggregate_exceptions()
    {
        var server = Pg("54000", "transaction row limit exceeded");
        Assert.Same(server, DsqlErrors.FindPostgresException(server));
        Assert.Same(server, DsqlErrors.FindPostgresException(new InvalidOperationException("a", new Exception("b", server))));
        Assert.Same(server, DsqlErrors.FindPostgresException(new AggregateException(new TimeoutException(), server)));
        Assert.Null(DsqlErrors.FindPostgresException(new InvalidOperationException("a", new TimeoutException())));
    }

    [Fact]
    public void Conflict_exception_names_attempts_and_keeps_the_last_conflict_found_in_the_chain()
    {
        var wrapped = new InvalidOperationException("outer", Oc000);

        var exception = new DsqlTransactionConflictException(5, wrapped);

        Assert.Equal(5, exception.Attempts);
        Assert.Same(Oc000, exception.LastConflict);
        Assert.Same(Oc000, exception.InnerException);
        Assert.Equal(
            "The transaction conflicted with concurrent transactions on all 5 attempts (SQLSTATE 40001, change " +
            "conflicts with another transaction (OC000)). Retry later, reduce contention on the hot rows, or raise " +
            "DsqlTransactionOptions.MaxRetries.",
            exception.Message);
    }

    [Fact]
    public void Conflict_exception_without_a_server_error_keeps_what_it_was_given()
    {
        var other = new InvalidOperationException("no server error");
        var exception = new DsqlTransactionConflictException(3, other);
        Assert.Null(exception.LastConflict);
        Assert.Same(other, exception.InnerException);
        Assert.Contains("no server error", exception.Message, StringComparison.Ordinal);
    }

    // ---- timeout and ambiguous commit -----------------------------------------------------------------------

    [Fact]
    public void Timeout_exception_says_how_long_it_ran_and_that_nothing_was_committed()
    {
        var inner = new OperationCanceledException();
        var exception = new DsqlTransactionTimeoutException(TimeSpan.FromSeconds(31.24), TimeSpan.FromSeconds(30), inner);

        Assert.Equal(TimeSpan.FromSeconds(31.24), exception.Elapsed);
        Assert.Equal(TimeSpan.FromSeconds(30), exception.Limit);
        Assert.Same(inner, exception.InnerException);
        Assert.StartsWith("The transaction ran 31.2 s, past its limit of 30.0 s (DsqlTransactionOptions.Timeout; DSQL ends " +
                          "transactions after 300 s). It was rolled back and nothing was committed.", exception.Message,
            StringComparison.Ordinal);
        Assert.Contains("CancellationToken", exception.Message, StringComparison.Ordinal);
        Assert.Null(new DsqlTransactionTimeoutException(TimeSpan.Zero, TimeSpan.FromSeconds(1), null).InnerException);
    }

    [Fact]
    public void Ambiguous_commit_is_never_transient_and_keeps_the_connection_error()
    {
        var io = new IOException("connection reset");
        var exception = new DsqlAmbiguousCommitException(new NpgsqlException("Exception while reading from stream", io));

        Assert.False(exception.IsTransient);
        Assert.Same(io, exception.InnerException!.InnerException);
        Assert.Contains("may or may not have been committed", exception.Message, StringComparison.Ordinal);
        Assert.Contains("idempotent", exception.Message, StringComparison.Ordinal);
    }

    // ---- every message is a real sentence -------------------------------------------------------------------

    [Fact]
    public void Messages_are_never_empty_even_for_empty_server_text()
    {
        var exceptions = new Exception[]
        {
            DsqlErrors.Translate(Pg("54000", "")),
            DsqlErrors.Translate(Pg("53300", "")),
            DsqlErrors.Translate(Pg("54011", "")),
            DsqlErrors.Translate(Pg("0A000", "")),
            new DsqlTransactionConflictException(1, new Exception("")),
            new DsqlTransactionTimeoutException(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), null),
            new DsqlAmbiguousCommitException(new IOException()),
        };

        Assert.IsType<DsqlLimitExceededException>(exceptions[0]);
        Assert.IsType<DsqlUnsupportedFeatureException>(exceptions[3]);
        Assert.All(exceptions, e => Assert.False(string.IsNullOrWhiteSpace(e.Message)));
        Assert.Equal(DsqlLimit.Other, ((DsqlLimitExceededException)exceptions[0]).Limit);
        Assert.Equal(DsqlLimit.ColumnsPerTable, ((DsqlLimitExceededException)exceptions[2]).Limit);
        Assert.Equal("See DSQL's list of unsupported PostgreSQL features.", ((DsqlUnsupportedFeatureException)exceptions[3]).Advice);
    }

    [Fact]
    public void Translate_rejects_null()
        => Assert.Throws<ArgumentNullException>(() => DsqlErrors.Translate(null!));
}
