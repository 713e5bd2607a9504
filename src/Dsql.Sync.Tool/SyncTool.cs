using System.CommandLine;
using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using Dsql.Connector;
using Dsql.Sync.Bulk;
using Dsql.Sync.Cdc;
using Dsql.Sync.Pipeline;
using Dsql.Sync.Schema;
using Dsql.Sync.Tool.Jobs;
using Npgsql;

namespace Dsql.Sync.Tool;

/// <summary>What tests change in the tool: how the sink's data source is built (credentials, clock).</summary>
internal sealed class SyncToolHooks
{
    public Action<DsqlDataSourceBuilder>? ConfigureSink { get; init; }

    /// <summary>Changes each table's writer options (tests: small chunks).</summary>
    public Action<DsqlBulkWriterOptions>? ConfigureWriter { get; init; }

    /// <summary>Sees every progress report (tests: press Ctrl+C in the middle of a load).</summary>
    public Action<string, BulkProgress>? OnProgress { get; init; }
}

/// <summary>The dsql-sync command line: <c>dsql-sync load pipeline.yaml [--dry-run]</c>.</summary>
internal static class SyncTool
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int BadInput = 2;
    public const int Interrupted = 130;

    /// <summary>Reads the pipeline file, printing every problem (exit 2) when it has some.</summary>
    internal static async Task<PipelineDefinition?> ReadPipelineAsync(string path, IReadOnlyList<string> overrides, TextWriter error)
    {
        try
        {
            return PipelineDefinition.Load(path, overrides);
        }
        catch (PipelineFileException ex)
        {
            await error.WriteLineAsync($"error: {ex.Origin} has {ex.Problems.Count} problem(s):");
            foreach (var problem in ex.Problems) await error.WriteLineAsync($"  {problem.Path}: {problem.Message}");
            return null;
        }
        catch (IOException ex)
        {
            await error.WriteLineAsync($"error: {ex.Message}");
            return null;
        }
    }

    private static async Task<int> StatusAsync(string path, IReadOnlyList<string> overrides, TextWriter output, TextWriter error, SyncToolHooks hooks, CancellationToken cancellationToken)
    {
        if (await ReadPipelineAsync(path, overrides, error) is not { } pipeline) return BadInput;
        try
        {
            return await new PipelineStatus(output, hooks).RunAsync(pipeline, pipeline.Pipeline.Name ?? Path.GetFileNameWithoutExtension(path), cancellationToken);
        }
        catch (Exception ex) when (ex is DbException or DsqlConfigurationException or TimeoutException)
        {
            await error.WriteLineAsync($"error: {ex.Message}");
            return Failed;
        }
    }

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, SyncToolHooks hooks, CancellationToken cancellationToken)
    {
        var file = new Argument<string>("pipeline") { Description = "The pipeline file (YAML: source, sink, pipeline sections)." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the schema mapping (DDL and decisions) and stop; the target is not touched." };
        var set = new Option<string[]>("--set")
        {
            Description = "Override a key of the pipeline file, checked as if the file said so (repeatable): --set sink.wire-format=insert.",
            HelpName = "section.key=value",
        };
        var worker = new Option<string?>("--worker") { Description = "This process's name in the job table (default: host name and process id). Processes that run the same pipeline share its work." };
        var lease = new Option<int>("--lease") { Description = "Seconds a worker holds a step without renewing it; a killed worker's steps are taken over after this long.", DefaultValueFactory = _ => LoadSettings.DefaultLeaseSeconds };
        var slicePages = new Option<long>("--slice-pages") { Description = "Source heap pages (8 KiB each) per slice, the unit of work a worker claims.", DefaultValueFactory = _ => LoadSettings.DefaultSlicePages };
        static Command Command(string name, string description, Argument argument, params Option[] options)
        {
            var command = new Command(name, description) { argument };
            foreach (var option in options) command.Options.Add(option);
            return command;
        }
        var load = Command("load", "Create the tables on DSQL, copy the rows, then create indexes and constraints. Several processes running the same pipeline share the load.",
            file, dryRun, set, worker, lease, slicePages);
        var run = Command("run", "Capture the source's changes: create the replication slot, load the tables from its snapshot (sink.enable-full-load), then apply every committed change to DSQL until stopped (Ctrl+C).",
            file, set, worker, lease, slicePages);
        var status = Command("status", "Print where the pipeline stands: its load job and applied position on the target, its replication slot and the log not applied yet at the source. Changes nothing.",
            file, set);
        var root = new RootCommand("dsql-sync: load PostgreSQL tables into Amazon Aurora DSQL, and keep them in step with change capture.");
        root.Subcommands.Add(load);
        root.Subcommands.Add(run);
        root.Subcommands.Add(status);

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var problem in parse.Errors) await error.WriteLineAsync($"error: {problem.Message}");
            await error.WriteLineAsync("Run with --help for the commands.");
            return BadInput;
        }
        if (parse.Action is null && parse.CommandResult.Command == status)
            return await StatusAsync(parse.GetValue(file)!, parse.GetValue(set) ?? [], output, error, hooks, cancellationToken);
        bool replicate = parse.CommandResult.Command == run;
        if (parse.Action is not null || !(replicate || parse.CommandResult.Command == load))
        {
            return await parse.InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, cancellationToken);
        }

        var settings = new LoadSettings(parse.GetValue(worker), parse.GetValue(lease), parse.GetValue(slicePages));
        if (settings.Problem() is { } badOption)
        {
            await error.WriteLineAsync($"error: {badOption}");
            return BadInput;
        }
        var loader = new PipelineLoad(output, error, hooks, settings);
        try
        {
            return await loader.RunAsync(parse.GetValue(file)!, !replicate && parse.GetValue(dryRun), parse.GetValue(set) ?? [], cancellationToken, replicate);
        }
        catch (ChangeSourceException ex)
        {
            await error.WriteLineAsync($"error: the source cannot stream changes: {ex.Message}");
            return BadInput;
        }
        catch (ChangeApplyException ex)
        {
            await error.WriteLineAsync($"error: {ex.Message}");
            if (ex.SqlState is not null && ex.Kind is not null)
            {
                // A poison change under sink.poison-behavior: stop. The position stays just before it, so a plain rerun
                // meets it again: a fix at the source is a later change, applied only once this one is out of the way.
                await error.WriteLineAsync(
                    "Everything before this change is applied, and the stored position is just before it, so a rerun meets it again first. To go on, either " +
                    "(1) fix the row at the source (an UPDATE with a value DSQL accepts, or a DELETE), then run once with --set sink.poison-behavior=dead-letter: " +
                    "the refused change is recorded in dsql_sync_dead_letters with its position and reason, and your fix, which comes later in the stream, is applied; " +
                    "or (2) when the value is right and the target refuses it for a reason you can remove (a constraint added on DSQL), remove it and run again as before.");
            }
            else
            {
                await error.WriteLineAsync("Everything before it is applied; fix the cause, then run again.");
            }
            return Failed;
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            await error.WriteLineAsync("interrupted: stopped after the last whole chunk; run the same command again to resume.");
            return Interrupted;
        }
        catch (TargetTableMismatchException)
        {
            // The differences are printed; the job's schema step was given back.
            return BadInput;
        }
        catch (Exception ex) when (ex is DsqlBulkWriteException or SchemaApplyException or DbException or DsqlConfigurationException or TimeoutException or InvalidOperationException)
        {
            await error.WriteLineAsync($"error: {ex.Message}");
            if (ex.InnerException is { } inner) await error.WriteLineAsync($"  cause: {inner.Message}");
            if (loader.Started) await error.WriteLineAsync("Rows already loaded stay loaded; run the same command again to resume.");
            return Failed;
        }
    }
}

/// <summary>One run of <c>load</c>.</summary>
internal sealed partial class PipelineLoad(TextWriter output, TextWriter error, SyncToolHooks hooks, LoadSettings settings)
{
    private readonly LoadDisplay _display = LoadDisplay.For(output);

    /// <summary>The pipeline file's mapping and writer keys (sink.write-mode, sink.wire-format, sink.chunk.*, ...).</summary>
    private DsqlSinkLoadOptions? _loadOptions;

    /// <summary>Whether the run got as far as writing to the target.</summary>
    public bool Started { get; private set; }

    /// <summary>Runs <c>load</c>, or with <paramref name="replicate"/> <c>run</c> (a full load from the slot's snapshot, then the change stream).</summary>
    public async Task<int> RunAsync(string path, bool dryRun, IReadOnlyList<string> overrides, CancellationToken cancellationToken, bool replicate = false)
    {
        if (await SyncTool.ReadPipelineAsync(path, overrides, error) is not { } pipeline) return SyncTool.BadInput;

        _loadOptions = pipeline.Sink.LoadOptions;
        var options = _loadOptions.ToSchemaMappingOptions();
        options.Schemas.Clear();
        foreach (var schema in pipeline.Source.Tables.SchemaPatterns) options.Schemas.Add(schema);
        foreach (var table in pipeline.Source.Tables.TablePatterns) options.Tables.Add(table);

        var sourceSettings = pipeline.Source.ToNpgsqlSettings();
        await using var source = new NpgsqlDataSourceBuilder(sourceSettings.ConnectionString).Build();
        SchemaMapping mapping;
        await using (var connection = await source.OpenConnectionAsync(cancellationToken))
        {
            mapping = await SchemaMapper.MapAsync(connection, options, cancellationToken);
        }
        if (mapping.Refusals.Count > 0)
        {
            await error.WriteLineAsync($"error: the source schema has {mapping.Refusals.Count} thing(s) DSQL cannot take as they are:");
            foreach (var refusal in mapping.Refusals)
            {
                await error.WriteLineAsync($"  {refusal.Subject} ({refusal.SourceType}): {refusal.Message}");
                // The refusal names the rule in code terms (TypeFamily.X); the file's key for it:
                var family = System.Text.RegularExpressions.Regex.Match(refusal.Message, @"TypeFamily\.(\w+)");
                if (family.Success && Enum.TryParse<TypeFamily>(family.Groups[1].Value, out var named))
                    await error.WriteLineAsync($"    in the pipeline file: {DsqlSinkLoadOptions.TypeMappingHint(named)}");
            }
            return SyncTool.BadInput;
        }
        if (pipeline.Sink.LoadOptions.WriteMode == BulkWriteMode.Upsert && mapping.Tables.Where(t => t.PrimaryKey.Count == 0).ToList() is { Count: > 0 } keyless)
        {
            await error.WriteLineAsync($"error: sink.write-mode upsert needs a primary key, and {keyless.Count} table(s) have none: "
                + string.Join(", ", keyless.Select(t => t.Schema + "." + t.Name)) + ". Use write-mode insert or insert-ignore, or leave those tables out.");
            return SyncTool.BadInput;
        }
        if (dryRun)
        {
            await output.WriteLineAsync(mapping.ToReport());
            await output.WriteLineAsync("dry run: nothing was written to the target.");
            return SyncTool.Ok;
        }

        Started = true;
        var builder = pipeline.Sink.CreateDataSourceBuilder();
        hooks.ConfigureSink?.Invoke(builder);
        await using var sink = builder.Build();
        var clock = Stopwatch.StartNew();
        string jobName = pipeline.Pipeline.Name ?? Path.GetFileNameWithoutExtension(path);
        if (replicate) return await ReplicateAsync(jobName, pipeline, mapping, source, sink, clock, cancellationToken);

        if (!pipeline.Sink.EnableFullLoad)
        {
            Line($"sink.enable-full-load is false: the tables are created, no rows are copied.");
            await using (var connection = await sink.OpenConnectionAsync(cancellationToken))
            {
                if (!await ApplyAsync(connection, mapping, DdlPhase.BeforeLoad, cancellationToken)) return SyncTool.BadInput;
                await ApplyAsync(connection, mapping, DdlPhase.AfterLoad, cancellationToken);
            }
            Line($"schema created for {mapping.Tables.Count} table(s) in {clock.Elapsed.TotalSeconds:0.0} s.");
            return SyncTool.Ok;
        }

        if (!await ExistingTablesMatchAsync(sink, mapping, cancellationToken)) return SyncTool.BadInput;
        return await LoadTablesAsync(pipeline, mapping, source, sink, jobName, null, clock, cancellationToken);
    }

    /// <summary>
    /// Every process checks the tables that exist against its own mapping before it writes: one started with other
    /// type rules (another file, a --set) must not write into tables made by the first.
    /// </summary>
    private async Task<bool> ExistingTablesMatchAsync(DsqlDataSource sink, SchemaMapping mapping, CancellationToken cancellationToken)
    {
        await using var connection = await sink.OpenConnectionAsync(cancellationToken);
        foreach (var table in mapping.Tables)
            if (!await MatchesAsync(connection, table, cancellationToken)) return false;
        return true;
    }

    /// <summary>Joins (or starts) load job <paramref name="jobId"/> and works on it until it is done.</summary>
    private async Task<int> LoadTablesAsync(PipelineDefinition pipeline, SchemaMapping mapping, NpgsqlDataSource source, DsqlDataSource sink,
        string jobId, string? snapshot, Stopwatch clock, CancellationToken cancellationToken)
    {
        var checkpoint = new DsqlTableCheckpoint(sink);
        await LoadJob.RaceTolerantAsync(checkpoint.EnsureCreatedAsync, cancellationToken);
        var job = new LoadJob(sink, jobId, TimeSpan.FromSeconds(settings.LeaseSeconds));
        await job.EnsureCreatedAsync(cancellationToken);
        var added = await job.RegisterAsync(mapping.Tables.Select(t => t.Schema + "." + t.Name).ToList(), cancellationToken);
        if (added.Count > 0) Line($"job {job.JobId}: the pipeline file now also selects {string.Join(", ", added)}, which the job had not planned: added to the job.");
        return await RunJobAsync(new JobContext(pipeline, mapping, source, sink, job, checkpoint, snapshot), clock, cancellationToken);
    }

    private async Task<BulkProgress> LoadSliceAsync(JobContext context, TableMapping table, JobStep slice, IProgress<BulkProgress> progress, CancellationToken cancellationToken)
    {
        string name = table.Schema + "." + table.Name;
        // The slice's pages, in physical order (partitions in a fixed order): the same rows in the same order on every
        // run while the source is not written, which is what numbers the chunks alike for a worker that takes over.
        string select = table.SourceSelect + string.Create(CultureInfo.InvariantCulture,
            $" WHERE ctid >= '({slice.FirstPage},0)'::tid{(slice.EndPage is { } end ? $" AND ctid < '({end},0)'::tid" : "")} ORDER BY tableoid, ctid");
        var options = new DsqlBulkWriterOptions
        {
            Table = name,
            Columns = table.LoadedColumns.Select(c => c.Name).ToList(),
            Parallelism = context.Pipeline.Sink.Parallelism,
            JobId = context.Job.JobId + ":" + slice.Name,
            Checkpoint = context.Checkpoint,
        };
        _loadOptions!.ApplyTo(options);
        hooks.ConfigureWriter?.Invoke(options);
        var writer = new DsqlBulkWriter(context.Sink, options);
        await using var connection = await context.Source.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        if (context.SourceSnapshot is { } snapshot)
        {
            await using var use = new NpgsqlCommand("SET TRANSACTION SNAPSHOT " + SqlLiteral(snapshot), connection, transaction);
            await use.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var command = new NpgsqlCommand(select, connection, transaction);
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        return await writer.WriteAsync(reader, progress, cancellationToken);
    }

    /// <summary>Runs the DDL of <paramref name="phase"/>; false (the differences printed) when an existing table does not match its mapping.</summary>
    private async Task<bool> ApplyAsync(DbConnection connection, SchemaMapping mapping, DdlPhase phase, CancellationToken cancellationToken)
    {
        foreach (var step in mapping.StepsOf(phase))
        {
            try
            {
                await DsqlSchemaApplier.ApplyStepAsync(connection, step, cancellationToken);
                Line($"ddl: {step.Description}: done");
            }
            catch (SchemaApplyException ex) when (AlreadyExists(ex))
            {
                // A rerun: the object was made by an earlier run. A table must still be the one this mapping makes.
                var table = mapping.Tables.FirstOrDefault(t => step.Sql.StartsWith("CREATE TABLE " + t.QualifiedName + " (", StringComparison.Ordinal));
                if (table is not null && !await MatchesAsync(connection, table, cancellationToken)) return false;
                Line($"ddl: {step.Description}: exists, skipped");
            }
        }
        return true;
    }

    /// <summary>Whether <paramref name="table"/> is absent from the target or matches its mapping; the differences are printed when not.</summary>
    private async Task<bool> MatchesAsync(DbConnection connection, TableMapping table, CancellationToken cancellationToken)
    {
        var differences = (await DsqlSchemaApplier.CompareExistingAsync(connection, table, cancellationToken))
            .Where(d => d.Kind != TableDifferenceKind.MissingTable).ToList();
        if (differences.Count == 0) return true;
        await error.WriteLineAsync($"error: the target table {table.Schema}.{table.Name} exists but differs from its mapping ({differences.Count} difference(s)):");
        foreach (var difference in differences) await error.WriteLineAsync($"  {difference}");
        await error.WriteLineAsync($"Nothing was loaded into it. Drop it on the target (DROP TABLE {table.QualifiedName}) so the load creates it, " +
            "or change the mapping (sink.type-mapping.*, sink.serial-mapping) or the table so that they match; --dry-run prints the mapping.");
        return false;
    }

    private static bool AlreadyExists(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is PostgresException { SqlState: PostgresErrorCodes.DuplicateTable or PostgresErrorCodes.DuplicateObject or PostgresErrorCodes.DuplicateSchema })
                return true;
        }
        return false;
    }

    private static string SqlLiteral(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";

    private static string Quote(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private void Line(FormattableString text) => _display.Line(text.ToString(CultureInfo.InvariantCulture));

}
