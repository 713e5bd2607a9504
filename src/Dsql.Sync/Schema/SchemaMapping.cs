using System.Text;

namespace Dsql.Sync.Schema;

/// <summary>The result of <see cref="SchemaMapper.MapAsync"/>: tables, DDL in order, decisions and refusals.</summary>
public sealed class SchemaMapping
{
    internal SchemaMapping(IReadOnlyList<TableMapping> tables, IReadOnlyList<MappingDecision> decisions, IReadOnlyList<MappingRefusal> refusals, IReadOnlyList<DdlStep> steps)
    {
        Tables = tables;
        Decisions = decisions;
        Refusals = refusals;
        Steps = steps;
    }

    /// <summary>The mapped tables, ordered by schema and name.</summary>
    public IReadOnlyList<TableMapping> Tables { get; }

    /// <summary>Every decision the mapping made.</summary>
    public IReadOnlyList<MappingDecision> Decisions { get; }

    /// <summary>The columns and objects refused under the rules in force; when any, nothing should be applied.</summary>
    public IReadOnlyList<MappingRefusal> Refusals { get; }

    /// <summary>Every DDL step in the order to run it, one statement per transaction.</summary>
    public IReadOnlyList<DdlStep> Steps { get; }

    /// <summary>The steps of one phase, in order.</summary>
    public IReadOnlyList<DdlStep> StepsOf(DdlPhase phase) => Steps.Where(s => s.Phase == phase).ToList();

    /// <summary>Throws <see cref="SchemaMappingException"/> listing every refusal, when there is any.</summary>
    public void ThrowIfRefused()
    {
        if (Refusals.Count > 0)
        {
            throw new SchemaMappingException(Refusals);
        }
    }

    /// <summary>The dry-run report: tables, decisions, refusals, and the DDL of both phases.</summary>
    public string ToReport()
    {
        var text = new StringBuilder();
        text.Append("Schema mapping: ").Append(Tables.Count).Append(" table(s), ").Append(Decisions.Count).Append(" decision(s), ")
            .Append(Refusals.Count).Append(" refusal(s)\n");
        if (Refusals.Count > 0)
        {
            text.Append("\n-- Refused (nothing is applied until each has a rule)\n");
            foreach (var refusal in Refusals)
            {
                text.Append("REFUSED ").Append(refusal.Message).Append('\n');
            }
        }

        text.Append("\n-- Decisions\n");
        foreach (var decision in Decisions)
        {
            text.Append("  ").Append(decision).Append('\n');
        }

        text.Append("\n-- Loader queries (source)\n");
        foreach (var table in Tables)
        {
            text.Append("  ").Append(table.QualifiedName).Append(" (").Append(table.TargetColumnList).Append(") <- ").Append(table.SourceSelect).Append('\n');
        }

        foreach (var phase in new[] { DdlPhase.BeforeLoad, DdlPhase.AfterLoad })
        {
            text.Append("\n-- DDL ").Append(phase == DdlPhase.BeforeLoad ? "before the load" : "after the load").Append(" (each statement its own transaction)\n");
            foreach (var step in StepsOf(phase))
            {
                text.Append(step.Sql).Append(";\n");
                if (step.IsAsyncJob)
                {
                    text.Append("CALL sys.wait_for_job('<job_id returned above>');\n");
                }
            }
        }

        return text.ToString();
    }
}

/// <summary>The mapping refused columns or objects; <see cref="Refusals"/> names each with its choices.</summary>
public sealed class SchemaMappingException : Exception
{
    /// <summary>Creates the exception from the refusals.</summary>
    public SchemaMappingException(IReadOnlyList<MappingRefusal> refusals)
        : base("The schema mapping refused " + refusals.Count + " item(s):\n" + string.Join("\n", refusals.Select(r => r.Message)))
    {
        Refusals = refusals;
    }

    /// <summary>Every refusal.</summary>
    public IReadOnlyList<MappingRefusal> Refusals { get; }
}
