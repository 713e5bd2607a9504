using Dsql.Sync.Bulk;

namespace Dsql.Sync.Tests;

public sealed class BulkWriterOptionsTests
{
    [Theory]
    [InlineData(nameof(DsqlBulkWriterOptions.Table))]
    [InlineData(nameof(DsqlBulkWriterOptions.Parallelism))]
    [InlineData(nameof(DsqlBulkWriterOptions.MaxRowsPerChunk))]
    [InlineData(nameof(DsqlBulkWriterOptions.MaxBytesPerChunk))]
    [InlineData(nameof(DsqlBulkWriterOptions.MaxParametersPerStatement))]
    [InlineData(nameof(DsqlBulkWriterOptions.MaxRowsPerStatement))]
    [InlineData(nameof(DsqlBulkWriterOptions.Columns))]
    [InlineData(nameof(DsqlBulkWriterOptions.JobId))]
    [InlineData(nameof(DsqlBulkWriterOptions.PrimaryKey))]
    public void A_wrong_option_is_refused_by_name(string option)
    {
        var options = new DsqlBulkWriterOptions { Table = "t" };
        switch (option)
        {
            case nameof(DsqlBulkWriterOptions.Table): options.Table = "a.b.c"; break;
            case nameof(DsqlBulkWriterOptions.Parallelism): options.Parallelism = 0; break;
            case nameof(DsqlBulkWriterOptions.MaxRowsPerChunk): options.MaxRowsPerChunk = 3_001; break;
            case nameof(DsqlBulkWriterOptions.MaxBytesPerChunk): options.MaxBytesPerChunk = 10L * 1024 * 1024 + 1; break;
            case nameof(DsqlBulkWriterOptions.MaxParametersPerStatement): options.MaxParametersPerStatement = 65_536; break;
            case nameof(DsqlBulkWriterOptions.MaxRowsPerStatement): options.MaxRowsPerStatement = 0; break;
            case nameof(DsqlBulkWriterOptions.Columns): options.Columns = ["a", "a"]; break;
            case nameof(DsqlBulkWriterOptions.JobId): options.Checkpoint = new NoCheckpoint(); break;
            case nameof(DsqlBulkWriterOptions.PrimaryKey): options.PrimaryKey = []; break;
        }
        var error = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Equal(option, error.ParamName);
        Assert.Contains("DsqlBulkWriterOptions." + option, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_defaults_are_within_DSQL_limits()
    {
        var options = new DsqlBulkWriterOptions { Table = "t" };
        options.Validate();
        Assert.Equal(3_000, options.MaxRowsPerChunk);
        Assert.True(options.MaxBytesPerChunk < 10L * 1024 * 1024);
        Assert.Equal(65_535, options.MaxParametersPerStatement);
    }

    [Fact]
    public void A_statement_carries_no_more_parameters_than_allowed()
    {
        var wide = new InsertStatements("\"t\"", Enumerable.Range(0, 30).Select(i => "c" + i).ToArray(), BulkWriteMode.Insert, [], 65_535);
        Assert.Equal(2_184, wide.RowsPerStatement); // 65,535 / 30
        var narrow = new InsertStatements("\"t\"", ["a", "b"], BulkWriteMode.Insert, [], 65_535);
        Assert.Equal(3_000, narrow.RowsPerStatement);
        Assert.EndsWith("($2999, $3000)", narrow.Sql(1_500), StringComparison.Ordinal);
    }

    [Fact]
    public void Upsert_updates_every_column_but_the_key()
    {
        var statements = new InsertStatements("\"t\"", ["id", "a", "b"], BulkWriteMode.Upsert, ["id"], 65_535);
        Assert.Equal("INSERT INTO \"t\" (\"id\", \"a\", \"b\") VALUES ($1, $2, $3) ON CONFLICT (\"id\") DO UPDATE SET \"a\" = EXCLUDED.\"a\", \"b\" = EXCLUDED.\"b\"", statements.Sql(1));
        var ignore = new InsertStatements("\"t\"", ["id"], BulkWriteMode.InsertIgnore, ["id"], 65_535);
        Assert.EndsWith("ON CONFLICT DO NOTHING", ignore.Sql(2), StringComparison.Ordinal);
    }

    [Fact]
    public void Each_index_adds_its_key_bytes_to_a_row()
    {
        object?[] row = [1, new string('x', 500)];
        long[] scratch = new long[2];
        long bare = new RowSizeEstimator(["id", "k"], []).Estimate(row, scratch);
        long withKey = new RowSizeEstimator(["id", "k"], [["id"]]).Estimate(row, scratch);
        long withIndex = new RowSizeEstimator(["id", "k"], [["id"], ["k"]]).Estimate(row, scratch);
        Assert.True(bare > 500 + 4);
        Assert.True(withKey > bare);
        Assert.True(withIndex - withKey > 500);
    }

    [Fact]
    public void Latency_percentiles_are_within_five_percent()
    {
        var histogram = new LatencyHistogram();
        for (int i = 1; i <= 100; i++) histogram.Add(TimeSpan.FromMilliseconds(i));
        Assert.InRange(histogram.Percentile(0.5).TotalMilliseconds, 50, 50 * 1.06);
        Assert.InRange(histogram.Percentile(0.99).TotalMilliseconds, 99, 99 * 1.06);
    }

    private sealed class NoCheckpoint : IBulkCheckpoint
    {
        public Task<IReadOnlySet<long>> GetCommittedChunksAsync(string jobId, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<bool> IsRecordedAsync(Npgsql.NpgsqlConnection connection, string jobId, long chunk, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task RecordAsync(Npgsql.NpgsqlConnection connection, string jobId, long chunk, int rows, CancellationToken cancellationToken) => throw new NotSupportedException();
    }
}
