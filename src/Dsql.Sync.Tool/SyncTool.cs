using System.CommandLine;
using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using Dsql.Connector;
using Dsql.Sync.Bulk;
using Dsql.Sync.Pipeline;
using Dsql.Sync.Schema;
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
        var set = new Option<string[]>("--set")
        {
            Description = "Override a key of the pipeline file, checked as if the file said so (repeatable): --set sink.wire-format=insert.",
            HelpName = "section.key=value",
        };
        var load = new Command("load", "Create the tables on DSQL, copy the rows, then create indexes and constraints.");
        load.Arguments.Add(file);
        load.Options.Add(dryRun);
        load.Options.Add(set);
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

        var loader = new PipelineLoad(output, error, hooks);
        try
        {
            return await loader.RunAsync(parse.GetValue(file)!, parse.GetValue(dryRun), parse.GetValue(set) ?? [], cancellationToken);
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            await error.WriteLineAsync("interrupted: stopped after the last whole chunk; run the same command again to resume.");
            return Interrupted;
        }
        catch (Exception ex) when (ex is DsqlBulkWriteException or SchemaApplyException or DbException or DsqlConfigurationException or TimeoutException)
        {
            await error.WriteLineAsync($"error: {ex.Message}");
            if (ex.InnerException is { } inner) await error.WriteLineAsync($"  cause: {inner.Message}");
            if (loader.Started) await error.WriteLineAsync("Rows already loaded stay loaded; run the same command again to resume.");
            return Failed;
        }
    }
}

/// <summary>One run of <c>load</c>.</summary>
internal sealed class PipelineLoad(TextWriter output, TextWriter error, SyncToolHooks hooks)
{
    private readonly LoadDisplay _display = LoadDisplay.For(output);

    /// <summary>The pipeline file's mapping and writer keys (sink.write-mode, sink.wire-format, sink.chunk.*, ...).</summary>
    private DsqlSinkLoadOptions? _loadOptions;

    /// <summary>Whether the run got as far as writing to the target.</summary>
    public bool Started { get; private set; }

    public async Task<int> RunAsync(string path, bool dryRun, IReadOnlyList<string> overrides, CancellationToken cancellationToken)
    {
        PipelineDefinition pipeline;
        try
        {
            pipeline = PipelineDefinition.Load(path, overrides);
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

        await using (var connection = await sink.OpenConnectionAsync(cancellationToken))
        {
            if (!await ApplyAsync(connection, mapping, DdlPhase.BeforeLoad, cancellationToken)) return SyncTool.BadInput;
        }
        string job = pipeline.Pipeline.Name ?? Path.GetFileNameWithoutExtension(path);
        var results = new BulkProgress[mapping.Tables.Count];
        if (!pipeline.Sink.EnableFullLoad)
        {
            Line($"sink.enable-full-load is false: the tables are created, no rows are copied.");
            await using (var connection = await sink.OpenConnectionAsync(cancellationToken))
            {
                await ApplyAsync(connection, mapping, DdlPhase.AfterLoad, cancellationToken);
            }
            Line($"schema created for {mapping.Tables.Count} table(s) in {clock.Elapsed.TotalSeconds:0.0} s.");
            return SyncTool.Ok;
        }

        var checkpoint = new DsqlTableCheckpoint(sink);
        await checkpoint.EnsureCreatedAsync(cancellationToken);
        await _display.RunAsync(mapping.Tables.Select(t => t.Schema + "." + t.Name).ToList(), () => Parallel.ForEachAsync(
            Enumerable.Range(0, mapping.Tables.Count),
            new ParallelOptions { MaxDegreeOfParallelism = pipeline.Pipeline.Parallelism, CancellationToken = cancellationToken },
            async (index, token) =>
            {
                var table = mapping.Tables[index];
                results[index] = await LoadTableAsync(source, sink, checkpoint, job, table, pipeline.Sink.Parallelism, token);
            }));

        await using (var connection = await sink.OpenConnectionAsync(cancellationToken))
        {
            await ApplyAsync(connection, mapping, DdlPhase.AfterLoad, cancellationToken);
        }

        Line($"loaded {mapping.Tables.Count} table(s) in {clock.Elapsed.TotalSeconds:0.0} s:");
        for (int i = 0; i < mapping.Tables.Count; i++)
        {
            var result = results[i];
            Line($"  {mapping.Tables[i].Schema}.{mapping.Tables[i].Name}: {result.Rows:N0} rows written, {result.RowsSkipped:N0} already loaded");
        }
        return SyncTool.Ok;
    }

    private async Task<BulkProgress> LoadTableAsync(NpgsqlDataSource source, DsqlDataSource sink, DsqlTableCheckpoint checkpoint, string job,
        TableMapping table, int parallelism, CancellationToken cancellationToken)
    {
        string name = table.Schema + "." + table.Name;
        string select = table.SourceSelect;
        if (table.PrimaryKey.Count > 0)
        {
            // A stable order numbers the chunks the same way on every run, which is what lets a rerun skip the committed ones.
            select += " ORDER BY " + string.Join(", ", table.PrimaryKey.Select(Quote));
        }
        else
        {
            // No key: the rows' physical order, stable while the source table is not changed between runs.
            select += " ORDER BY ctid";
        }
        var options = new DsqlBulkWriterOptions
        {
            Table = name,
            Columns = table.LoadedColumns.Select(c => c.Name).ToList(),
            Parallelism = parallelism,
            JobId = job + ":" + name,
            Checkpoint = checkpoint,
        };
        _loadOptions!.ApplyTo(options);
        hooks.ConfigureWriter?.Invoke(options);
        var writer = new DsqlBulkWriter(sink, options);
        await using var connection = await source.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(select, connection);
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        var progress = new SynchronousProgress(p =>
        {
            _display.Report(name, p);
            hooks.OnProgress?.Invoke(name, p);
        });
        var result = await writer.WriteAsync(reader, progress, cancellationToken);
        _display.Done(name, result);
        return result;
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
                if (table is not null && await DsqlSchemaApplier.CompareExistingAsync(connection, table, cancellationToken) is { Count: > 0 } differences)
                {
                    await error.WriteLineAsync($"error: the target table {table.Schema}.{table.Name} exists but differs from its mapping ({differences.Count} difference(s)):");
                    foreach (var difference in differences) await error.WriteLineAsync($"  {difference}");
                    await error.WriteLineAsync($"Nothing was loaded into it. Drop it on the target (DROP TABLE {table.QualifiedName}) so the load creates it, " +
                        "or change the mapping (sink.type-mapping.*, sink.serial-mapping) or the table so that they match; --dry-run prints the mapping.");
                    return false;
                }
                Line($"ddl: {step.Description}: exists, skipped");
            }
        }
        return true;
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

    private sealed class SynchronousProgress(Action<BulkProgress> report) : IProgress<BulkProgress>
    {
        public void Report(BulkProgress value) => report(value);
    }
}
