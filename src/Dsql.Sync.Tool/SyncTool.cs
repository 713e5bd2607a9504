using System.CommandLine;
using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using Dsql.Connector;
using Dsql.Sync.Bulk;
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

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, SyncToolHooks hooks, CancellationToken cancellationToken)
    {
        var file = new Argument<string>("pipeline") { Description = "The pipeline file (YAML: source, sink, pipeline sections)." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the schema mapping (DDL and decisions) and stop; the target is not touched." };
        var worker = new Option<string?>("--worker") { Description = "This process's name in the job table (default: host name and process id). Processes that run the same pipeline share its work." };
        var lease = new Option<int>("--lease") { Description = "Seconds a worker holds a step without renewing it; a killed worker's steps are taken over after this long.", DefaultValueFactory = _ => LoadSettings.DefaultLeaseSeconds };
        var slicePages = new Option<long>("--slice-pages") { Description = "Source heap pages (8 KiB each) per slice, the unit of work a worker claims.", DefaultValueFactory = _ => LoadSettings.DefaultSlicePages };
        var load = new Command("load", "Create the tables on DSQL, copy the rows, then create indexes and constraints. Several processes running the same pipeline share the load.");
        load.Arguments.Add(file);
        load.Options.Add(dryRun);
        load.Options.Add(worker);
        load.Options.Add(lease);
        load.Options.Add(slicePages);
        var root = new RootCommand("dsql-sync: load PostgreSQL tables into Amazon Aurora DSQL.");
        root.Subcommands.Add(load);

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var problem in parse.Errors) await error.WriteLineAsync($"error: {problem.Message}");
            await error.WriteLineAsync("Run with --help for the commands.");
            return BadInput;
        }
        if (parse.Action is not null || parse.CommandResult.Command != load)
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
            return await loader.RunAsync(parse.GetValue(file)!, parse.GetValue(dryRun), cancellationToken);
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            await error.WriteLineAsync("interrupted: stopped after the last whole chunk; run the same command again to resume.");
            return Interrupted;
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

    /// <summary>Whether the run got as far as writing to the target.</summary>
    public bool Started { get; private set; }

    public async Task<int> RunAsync(string path, bool dryRun, CancellationToken cancellationToken)
    {
        PipelineDefinition pipeline;
        try
        {
            pipeline = PipelineDefinition.Load(path);
        }
        catch (PipelineFileException ex)
        {
            await error.WriteLineAsync($"error: {ex.Origin} has {ex.Problems.Count} problem(s):");
            foreach (var problem in ex.Problems) await error.WriteLineAsync($"  {problem.Path}: {problem.Message}");
            return SyncTool.BadInput;
        }
        catch (IOException ex)
        {
            await error.WriteLineAsync($"error: {ex.Message}");
            return SyncTool.BadInput;
        }

        var options = new SchemaMappingOptions();
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
            foreach (var refusal in mapping.Refusals) await error.WriteLineAsync($"  {refusal.Subject} ({refusal.SourceType}): {refusal.Message}");
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

        if (!pipeline.Sink.EnableFullLoad)
        {
            Line($"sink.enable-full-load is false: the tables are created, no rows are copied.");
            await using (var connection = await sink.OpenConnectionAsync(cancellationToken))
            {
                await ApplyAsync(connection, mapping, DdlPhase.BeforeLoad, cancellationToken);
                await ApplyAsync(connection, mapping, DdlPhase.AfterLoad, cancellationToken);
            }
            Line($"schema created for {mapping.Tables.Count} table(s) in {clock.Elapsed.TotalSeconds:0.0} s.");
            return SyncTool.Ok;
        }

        var checkpoint = new DsqlTableCheckpoint(sink);
        await LoadJob.RaceTolerantAsync(checkpoint.EnsureCreatedAsync, cancellationToken);
        var job = new LoadJob(sink, pipeline.Pipeline.Name ?? Path.GetFileNameWithoutExtension(path), TimeSpan.FromSeconds(settings.LeaseSeconds));
        await job.EnsureCreatedAsync(cancellationToken);
        var added = await job.RegisterAsync(mapping.Tables.Select(t => t.Schema + "." + t.Name).ToList(), cancellationToken);
        if (added.Count > 0) Line($"job {job.JobId}: the pipeline file now also selects {string.Join(", ", added)}, which the job had not planned: added to the job.");
        return await RunJobAsync(new JobContext(pipeline, mapping, source, sink, job, checkpoint), clock, cancellationToken);
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
        hooks.ConfigureWriter?.Invoke(options);
        var writer = new DsqlBulkWriter(context.Sink, options);
        await using var connection = await context.Source.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(select, connection);
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        return await writer.WriteAsync(reader, progress, cancellationToken);
    }

    private async Task ApplyAsync(DbConnection connection, SchemaMapping mapping, DdlPhase phase, CancellationToken cancellationToken)
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
                // A rerun: the object was made by an earlier run.
                Line($"ddl: {step.Description}: exists, skipped");
            }
        }
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

    private static string Quote(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private void Line(FormattableString text) => _display.Line(text.ToString(CultureInfo.InvariantCulture));

}
