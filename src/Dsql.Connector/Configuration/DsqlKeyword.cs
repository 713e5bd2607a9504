using System.Globalization;

namespace Dsql.Connector;

/// <summary>
/// One connection-string keyword as data: its canonical name, synonyms, the builder property it sets, its type,
/// default, how its text is parsed and formatted, and what values it accepts. The table of them is
/// <see cref="DsqlKeywords"/>.
/// </summary>
internal abstract class DsqlKeyword
{
    protected DsqlKeyword(string name, string property, string[] synonyms, string expectation, bool keepsSpaces)
    {
        Name = name;
        Property = property;
        Synonyms = synonyms;
        Expectation = expectation;
        KeepsSpaces = keepsSpaces;
    }

    /// <summary>Position in <see cref="DsqlKeywords.All"/>: the slot of the value in a builder and the order of output.</summary>
    public int Index { get; set; }

    /// <summary>The canonical keyword, as written in formatted connection strings (e.g. <c>Maximum Pool Size</c>).</summary>
    public string Name { get; }

    /// <summary>The builder property it sets, also the <see cref="DsqlConfigurationException.Setting"/> of its errors.</summary>
    public string Property { get; }

    /// <summary>Other keywords for the same setting (Npgsql's and libpq's names).</summary>
    public string[] Synonyms { get; }

    /// <summary>What a valid value is, completing "{Name} '{value}' is not ...".</summary>
    public string Expectation { get; }

    /// <summary>The value is used as written (only an empty one restores the default), not trimmed.</summary>
    public bool KeepsSpaces { get; }

    /// <summary>The type of the property.</summary>
    public abstract Type ValueType { get; }

    /// <summary>The value of a new builder.</summary>
    public abstract object? DefaultValue { get; }

    /// <summary>The value a connection-string text stands for; null or empty text stands for the default.</summary>
    /// <exception cref="DsqlConfigurationException">The text is not a value of this keyword's type.</exception>
    public abstract object? Parse(string? text);

    /// <summary>A value given through the indexer: one of the property's type is taken as it is, anything else as text.</summary>
    public object? Convert(object? value) => value is null ? DefaultValue
        : ValueType.IsInstanceOfType(value) ? value
        : Parse(System.Convert.ToString(value, CultureInfo.InvariantCulture));

    /// <summary>The connection-string text of a value (parses back to the same value).</summary>
    public abstract string Format(object? value);

    /// <summary>The problem with a value in the context of all settings, or null when it is acceptable.</summary>
    public abstract DsqlConfigurationException? Check(object? value, DsqlConnectionStringBuilder settings);

    /// <summary>The error for a value that is not acceptable: "{Name} '{text}' is not {Expectation}."</summary>
    public DsqlConfigurationException Invalid(string text) => new(Property, $"{Name} '{text}' is not {Expectation}.");
}

/// <summary>A keyword whose property has type <typeparamref name="T"/>.</summary>
internal sealed class DsqlKeyword<T> : DsqlKeyword
{
    private readonly Func<DsqlKeyword<T>, string, T> _parse;
    private readonly Func<T, string> _format;
    private readonly Func<T, bool>? _accepts;
    private readonly Func<T, DsqlConnectionStringBuilder, string?>? _problem;

    /// <param name="name">The canonical keyword.</param>
    /// <param name="property">The builder property.</param>
    /// <param name="defaultValue">The default.</param>
    /// <param name="parse">Parses non-empty text (throwing <see cref="DsqlKeyword.Invalid"/> when it cannot).</param>
    /// <param name="format">Formats a value.</param>
    /// <param name="synonyms">Other keywords.</param>
    /// <param name="expectation">What a valid value is.</param>
    /// <param name="accepts">The range check; a value it refuses gets the <see cref="DsqlKeyword.Invalid"/> message.</param>
    /// <param name="problem">A check with its own message (may look at other settings; also sees null); null when fine.</param>
    /// <param name="keepsSpaces">See <see cref="DsqlKeyword.KeepsSpaces"/>.</param>
    public DsqlKeyword(string name, string property, T defaultValue, Func<DsqlKeyword<T>, string, T> parse,
        Func<T, string> format, string[]? synonyms = null, string expectation = "", Func<T, bool>? accepts = null,
        Func<T, DsqlConnectionStringBuilder, string?>? problem = null, bool keepsSpaces = false)
        : base(name, property, synonyms ?? [], expectation, keepsSpaces)
    {
        Default = defaultValue;
        _parse = parse;
        _format = format;
        _accepts = accepts;
        _problem = problem;
    }

    /// <summary>The value of a new builder.</summary>
    public T Default { get; }

    /// <inheritdoc />
    public override Type ValueType => Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T);

    /// <inheritdoc />
    public override object? DefaultValue => Default;

    /// <inheritdoc />
    public override object? Parse(string? text)
    {
        var value = KeepsSpaces ? text : text?.Trim();
        return string.IsNullOrEmpty(value) ? Default : _parse(this, value);
    }

    /// <inheritdoc />
    public override string Format(object? value) => value is null ? "" : _format((T)value);

    /// <inheritdoc />
    public override DsqlConfigurationException? Check(object? value, DsqlConnectionStringBuilder settings)
    {
        // A null reaches only the problem check: for most settings it means "not set", for a few it is an error.
        var typed = value is null ? default! : (T)value;
        if (value is not null && _accepts is not null && !_accepts(typed))
        {
            return Invalid(_format(typed));
        }

        return _problem?.Invoke(typed, settings) is { } message ? new DsqlConfigurationException(Property, message) : null;
    }
}
