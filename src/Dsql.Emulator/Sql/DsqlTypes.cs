namespace Dsql.Emulator.Sql;

/// <summary>How Aurora DSQL treats a PostgreSQL data type.</summary>
internal enum DsqlTypeSupport : byte
{
    /// <summary>Not a built-in type this table knows (a domain, a catalog type): left to the backend.</summary>
    Unknown,
    /// <summary>On DSQL's supported-types page: usable for columns and in queries.</summary>
    Supported,
    /// <summary>A query runtime type only (DSQL's "Query runtime data types": inet; arrays are handled apart): casts work, columns do not.</summary>
    RuntimeOnly,
    /// <summary>Not on the supported-types page: refused as a column type and in casts and constructors.</summary>
    Unsupported,
    /// <summary>A serial pseudo-type: DSQL does not rewrite it, so the type does not exist (42704).</summary>
    Serial,
}

/// <summary>
/// DSQL's data types as data: every PostgreSQL spelling of a built-in type, the name PostgreSQL displays for it
/// (the name DSQL puts in "datatype ... not supported"), and whether DSQL supports it.
/// Source: AWS Aurora DSQL user guide, "Supported data types in Aurora DSQL" (an allow-list: numeric, character,
/// date and time, boolean, bytea, uuid, json, jsonb; arrays and inet only at query runtime) and /work/shared facts.
/// </summary>
internal static class DsqlTypes
{
    private static readonly Dictionary<string, (string Display, DsqlTypeSupport Support)> ByName = Build();

    /// <summary>Words that can continue a multi-word type name (double precision, character varying, ...).</summary>
    private static Dictionary<string, (string Display, DsqlTypeSupport Support)> Build()
    {
        var map = new Dictionary<string, (string, DsqlTypeSupport)>(StringComparer.OrdinalIgnoreCase);
        void Add(DsqlTypeSupport support, string display, params string[] aliases)
        {
            map[display] = (display, support);
            foreach (string alias in aliases)
            {
                map[alias] = (display, support);
            }
        }

        const DsqlTypeSupport S = DsqlTypeSupport.Supported;
        Add(S, "smallint", "int2");
        Add(S, "integer", "int", "int4");
        Add(S, "bigint", "int8");
        Add(S, "real", "float4");
        Add(S, "double precision", "float8", "float");
        Add(S, "numeric", "decimal", "dec");
        Add(S, "character", "char", "bpchar", "nchar", "national character");
        Add(S, "character varying", "varchar", "char varying", "national character varying", "nchar varying");
        Add(S, "text");
        Add(S, "date");
        Add(S, "time without time zone", "time");
        Add(S, "time with time zone", "timetz");
        Add(S, "timestamp without time zone", "timestamp");
        Add(S, "timestamp with time zone", "timestamptz");
        Add(S, "interval");
        Add(S, "boolean", "bool");
        Add(S, "bytea");
        Add(S, "uuid");
        Add(S, "json");
        Add(S, "jsonb");

        Add(DsqlTypeSupport.RuntimeOnly, "inet");

        const DsqlTypeSupport U = DsqlTypeSupport.Unsupported;
        foreach (string name in new[]
                 {
                     "money", "xml", "cidr", "macaddr", "macaddr8", "point", "line", "lseg", "box", "path", "polygon",
                     "circle", "tsvector", "tsquery", "int4range", "int8range", "numrange", "tsrange", "tstzrange",
                     "daterange", "int4multirange", "int8multirange", "nummultirange", "tsmultirange",
                     "tstzmultirange", "datemultirange", "bit", "pg_lsn", "txid_snapshot", "pg_snapshot",
                 })
        {
            Add(U, name);
        }

        Add(U, "bit varying", "varbit");

        foreach (string serial in new[] { "serial", "bigserial", "smallserial", "serial2", "serial4", "serial8" })
        {
            map[serial] = (serial, DsqlTypeSupport.Serial);
        }

        return map;
    }

    /// <summary>Looks a (lower- or mixed-case, single-spaced) type name up.</summary>
    public static (string Display, DsqlTypeSupport Support) Find(string name) =>
        ByName.TryGetValue(name, out var entry) ? entry : (name, DsqlTypeSupport.Unknown);

    /// <summary>True when <paramref name="name"/> is a type that cannot appear in casts or constructors on DSQL.</summary>
    public static bool IsUnsupported(ReadOnlySpan<char> name, out string display)
    {
        if (name.Length <= 16 && ByName.TryGetValue(name.ToString(), out var entry) && entry.Support == DsqlTypeSupport.Unsupported)
        {
            display = entry.Display;
            return true;
        }

        display = string.Empty;
        return false;
    }

    /// <summary>
    /// Reads a type name starting at token <paramref name="i"/>: an optional <c>pg_catalog.</c> qualifier, the
    /// words of a multi-word name, a type modifier in parentheses, and array bounds (<c>[]</c>, <c>[n]</c>,
    /// <c>ARRAY</c>, <c>ARRAY[n]</c>). Returns false when no type name starts there.
    /// </summary>
    public static bool TryRead(StatementView s, int i, out TypeReference type, out int end)
    {
        type = default;
        end = i;
        if (!s.IsIdent(i))
        {
            return false;
        }

        int k = i;
        bool qualified = false;
        if (s.Punct(k + 1, '.') && s.IsIdent(k + 2))
        {
            // schema.type: only pg_catalog names built-in types; anything else is a user type (a domain).
            qualified = true;
            if (!s.IdentSpan(k).Equals("pg_catalog", StringComparison.OrdinalIgnoreCase))
            {
                end = s.SkipQualifiedName(k);
                type = new TypeReference(s.Value(end - 1), DsqlTypeSupport.Unknown, IsArray(s, ref end));
                return true;
            }

            k += 2;
        }

        string name = s.Tokens[k].Kind == SqlTokenKind.QuotedIdent ? s.Value(k) : s.Text(k).ToString().ToLowerInvariant();
        k++;
        if (!qualified && s.Tokens[k - 1].Kind == SqlTokenKind.Word)
        {
            name = ReadMultiWord(s, name, ref k);
        }

        bool modifier = SkipModifier(s, ref k);
        if (name is "time" or "timestamp" && (s.Kw(k, "WITH") || s.Kw(k, "WITHOUT")) && s.Kw(k + 1, "TIME") && s.Kw(k + 2, "ZONE"))
        {
            name = name + (s.Kw(k, "WITH") ? " with time zone" : " without time zone");
            k += 3;
        }
        else if (name == "interval")
        {
            while (s.Kw(k, "YEAR") || s.Kw(k, "MONTH") || s.Kw(k, "DAY") || s.Kw(k, "HOUR") || s.Kw(k, "MINUTE")
                   || s.Kw(k, "SECOND") || s.Kw(k, "TO"))
            {
                k++;
            }

            modifier |= SkipModifier(s, ref k);
        }

        var (display, support) = Find(name);
        end = k;
        type = new TypeReference(display, support, IsArray(s, ref end)) { HasModifier = modifier };
        return true;
    }

    private static string ReadMultiWord(StatementView s, string first, ref int k)
    {
        switch (first)
        {
            case "double" when s.Kw(k, "PRECISION"):
                k++;
                return "double precision";
            case "character" or "char" or "nchar" when s.Kw(k, "VARYING"):
                k++;
                return "character varying";
            case "bit" when s.Kw(k, "VARYING"):
                k++;
                return "bit varying";
            case "national" when s.Kw(k, "CHARACTER") || s.Kw(k, "CHAR"):
                k++;
                if (s.Kw(k, "VARYING"))
                {
                    k++;
                    return "character varying";
                }

                return "character";
            default:
                return first;
        }
    }

    private static bool SkipModifier(StatementView s, ref int k)
    {
        if (!s.Punct(k, '('))
        {
            return false;
        }

        int depth = s.Depth(k);
        k++;
        while (k < s.Count && !(s.Punct(k, ')') && s.Depth(k) == depth))
        {
            k++;
        }

        k++;
        return true;
    }

    private static bool IsArray(StatementView s, ref int k)
    {
        bool array = false;
        while (true)
        {
            if (s.Punct(k, '['))
            {
                array = true;
                k++;
                if (s.Is(k, SqlTokenKind.Number))
                {
                    k++;
                }

                if (s.Punct(k, ']'))
                {
                    k++;
                }

                continue;
            }

            if (s.Kw(k, "ARRAY"))
            {
                array = true;
                k++;
                continue;
            }

            return array;
        }
    }
}

/// <summary>A type as written in a statement: its display name, DSQL's support, and whether it is an array.</summary>
internal readonly record struct TypeReference(string Display, DsqlTypeSupport Support, bool IsArray)
{
    /// <summary>True when the type was written with a modifier, e.g. <c>numeric(10,2)</c>.</summary>
    public bool HasModifier { get; init; }

    /// <summary>The name DSQL uses in its messages: <c>integer[]</c> for an array.</summary>
    public string MessageName => IsArray ? Display + "[]" : Display;
}
