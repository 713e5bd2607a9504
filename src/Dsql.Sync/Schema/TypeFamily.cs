namespace Dsql.Sync.Schema;

/// <summary>A family of PostgreSQL types that DSQL does not store as they are; each family has one <see cref="TypeRule"/>.</summary>
public enum TypeFamily
{
    /// <summary><c>json</c>: DSQL documents <c>jsonb</c> as its JSON column type.</summary>
    Json,
    /// <summary>Arrays of any element type (<c>integer[]</c>, <c>text[]</c>): DSQL has arrays at query runtime only.</summary>
    Array,
    /// <summary>Enum types (<c>CREATE TYPE ... AS ENUM</c>): DSQL refuses CREATE TYPE.</summary>
    Enum,
    /// <summary>Composite types (<c>CREATE TYPE ... AS (...)</c>): DSQL refuses CREATE TYPE.</summary>
    Composite,
    /// <summary>Network types: <c>inet</c>, <c>cidr</c>, <c>macaddr</c>, <c>macaddr8</c>.</summary>
    Network,
    /// <summary>Geometric types: <c>point</c>, <c>line</c>, <c>lseg</c>, <c>box</c>, <c>path</c>, <c>polygon</c>, <c>circle</c>.</summary>
    Geometric,
    /// <summary>Range and multirange types (<c>int4range</c>, <c>tstzrange</c>, <c>datemultirange</c>, ...).</summary>
    Range,
    /// <summary><c>money</c>.</summary>
    Money,
    /// <summary><c>xml</c>.</summary>
    Xml,
    /// <summary>Bit strings: <c>bit(n)</c>, <c>bit varying(n)</c>.</summary>
    BitString,
    /// <summary>Text search types: <c>tsvector</c>, <c>tsquery</c>.</summary>
    TextSearch,
    /// <summary><c>numeric</c> without precision: DSQL would give it numeric(18,6) and round the values.</summary>
    UnconstrainedNumeric,
    /// <summary>Every other type DSQL lacks (<c>pg_lsn</c>, <c>oid</c>, <c>name</c>, types of extensions, ...).</summary>
    Other,
}

/// <summary>What the mapping does with a column whose type belongs to a <see cref="TypeFamily"/>.</summary>
public enum TypeRule
{
    /// <summary>Refuse the column: the mapping reports it with the choices, and nothing is applied.</summary>
    Refuse,
    /// <summary>Store the value as <c>text</c> (the loader reads <c>column::text</c>, PostgreSQL's text form).</summary>
    Text,
    /// <summary>Store the value as <c>jsonb</c> (the loader reads <c>to_jsonb(column)</c> or <c>column::jsonb</c>).</summary>
    Jsonb,
    /// <summary>Store the value as <c>numeric</c> (money: <c>numeric(20,2)</c>; unconstrained numeric: the precision and scale of the options).</summary>
    Numeric,
}

/// <summary>What a <c>serial</c>, <c>bigserial</c>, <c>smallserial</c> or identity column becomes.</summary>
public enum SerialMapping
{
    /// <summary><c>bigint GENERATED ... AS IDENTITY (START WITH next CACHE n)</c>; the source values are copied.</summary>
    Identity,
    /// <summary><c>uuid DEFAULT gen_random_uuid()</c>; the source values are not copied (DSQL generates new keys).</summary>
    Uuid,
}
