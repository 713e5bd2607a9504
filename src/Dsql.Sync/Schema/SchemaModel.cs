namespace Dsql.Sync.Schema;

/// <summary>One column of a mapped table: its source and target types and how the loader reads it.</summary>
/// <param name="Name">The column name (unquoted).</param>
/// <param name="SourceType">The type in the source, as PostgreSQL formats it (<c>character varying(20)</c>).</param>
/// <param name="TargetType">The type in DSQL.</param>
/// <param name="SourceExpression">
/// The expression the loader selects from the source to get a value of <see cref="TargetType"/>
/// (the quoted column, or a conversion such as <c>"tags"::text</c> or <c>to_jsonb("tags")</c>).
/// </param>
/// <param name="IsLoaded">False when DSQL generates the value and the loader must leave the column out.</param>
/// <param name="IsIdentityAlways">True for <c>GENERATED ALWAYS AS IDENTITY</c>: an INSERT that carries the value needs <c>OVERRIDING SYSTEM VALUE</c> (COPY does not).</param>
public sealed record ColumnMapping(string Name, string SourceType, string TargetType, string SourceExpression, bool IsLoaded, bool IsIdentityAlways);

/// <summary>One mapped table.</summary>
/// <param name="Schema">The schema (same name in the source and in DSQL).</param>
/// <param name="Name">The table name.</param>
/// <param name="Columns">Every column, in the source's order.</param>
/// <param name="PrimaryKey">The primary key's columns, empty when the source has none.</param>
public sealed record TableMapping(string Schema, string Name, IReadOnlyList<ColumnMapping> Columns, IReadOnlyList<string> PrimaryKey)
{
    /// <summary>The quoted <c>"schema"."table"</c>.</summary>
    public string QualifiedName => SqlNames.Qualify(Schema, Name);

    /// <summary>The columns the loader writes, in order.</summary>
    public IReadOnlyList<ColumnMapping> LoadedColumns => Columns.Where(c => c.IsLoaded).ToList();

    /// <summary>The query the loader runs on the source: each loaded column converted to its DSQL type.</summary>
    public string SourceSelect =>
        "SELECT " + string.Join(", ", LoadedColumns.Select(c => c.SourceExpression)) + " FROM " + QualifiedName;

    /// <summary>The target column list of the loaded columns, quoted and comma-separated.</summary>
    public string TargetColumnList => string.Join(", ", LoadedColumns.Select(c => SqlNames.Quote(c.Name)));
}

/// <summary>One decision the mapping made, to show in a dry run.</summary>
/// <param name="Subject">What it concerns: <c>schema.table.column</c>, <c>schema.table</c>, or a constraint or index name.</param>
/// <param name="Source">What the source has.</param>
/// <param name="Target">What DSQL gets (or "skipped").</param>
/// <param name="Reason">Why, and what the loader must do.</param>
public sealed record MappingDecision(string Subject, string Source, string Target, string Reason)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Subject}: {Source} -> {Target} ({Reason})";
}

/// <summary>A column or object the mapping refuses under the rules in force.</summary>
/// <param name="Subject">The <c>schema.table.column</c> (or object) refused.</param>
/// <param name="SourceType">The source type.</param>
/// <param name="Message">What is wrong and the choices that would map it.</param>
public sealed record MappingRefusal(string Subject, string SourceType, string Message)
{
    /// <inheritdoc/>
    public override string ToString() => Message;
}

/// <summary>When a DDL step runs relative to the data load.</summary>
public enum DdlPhase
{
    /// <summary>Before the load: schemas, domains, tables with their primary keys.</summary>
    BeforeLoad,
    /// <summary>After the load: indexes, unique constraints, foreign keys, CHECK constraints.</summary>
    AfterLoad,
}

/// <summary>One DDL statement, run in its own transaction (DSQL's rule).</summary>
/// <param name="Phase">Before or after the load.</param>
/// <param name="Sql">The statement.</param>
/// <param name="IsAsyncJob">True when the statement returns a job id (<c>CREATE INDEX ASYNC</c>, <c>ALTER TABLE ASYNC</c>) to wait for with <c>CALL sys.wait_for_job</c>.</param>
/// <param name="Description">What the step does, for reports and errors.</param>
public sealed record DdlStep(DdlPhase Phase, string Sql, bool IsAsyncJob, string Description);
