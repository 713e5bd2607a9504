using System.Collections;
using System.Collections.ObjectModel;
using System.ComponentModel;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace Dsql.Connector;

// The storage of the settings and the DbConnectionStringBuilder members over it. Every value lives in _values (one
// slot per DsqlKeywords entry) and, when it differs from its default, also in the base class's dictionary under its
// canonical keyword: so Count, EquivalentTo and the base class's connection-string cache stay right.
public sealed partial class DsqlConnectionStringBuilder
{
    private readonly object?[] _values = new object?[DsqlKeywords.All.Length];
    private readonly Dictionary<string, string> _npgsqlOptions = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The settings as a connection string: the same text as <see cref="ToString"/>. Setting it replaces every
    /// setting with those of the text (either form; a malformed or refused setting throws and changes nothing);
    /// call <see cref="Validate"/> when done.
    /// </summary>
    /// <exception cref="DsqlConfigurationException">A setting is unknown, refused or malformed.</exception>
    [Browsable(false)]
    public new string ConnectionString
    {
        get => ToString();
        set
        {
            var parsed = new DsqlConnectionStringBuilder(value ?? "", validate: false);
            Clear();
            foreach (var keyword in DsqlKeywords.All)
            {
                Store(keyword, parsed._values[keyword.Index]);
            }

            foreach (var (key, option) in parsed._npgsqlOptions)
            {
                StoreNpgsqlOption(key, option);
            }
        }
    }

    /// <summary>
    /// A setting by keyword or synonym (case-insensitive; spaces and underscores ignored). DSQL settings read as their
    /// typed values (<see cref="Port"/> as an <see cref="int"/>); Npgsql options as text (null when not set). Writing
    /// accepts the typed value or its connection-string text; null restores the default.
    /// </summary>
    /// <param name="keyword">The keyword.</param>
    /// <exception cref="DsqlConfigurationException">The keyword is unknown or refused, or the value is malformed.</exception>
    [AllowNull]
    public override object this[string keyword]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(keyword);
            if (DsqlKeywords.Find(keyword) is { } own)
            {
                return _values[own.Index]!;
            }

            if (DsqlKeywords.FindRefused(keyword) is { } refused)
            {
                throw refused.Exception();
            }

            var canonical = NpgsqlPassThrough.CanonicalKeyOf(keyword) ?? throw NpgsqlPassThrough.Unknown(keyword);
            return _npgsqlOptions.GetValueOrDefault(canonical)!;
        }

        set
        {
            ArgumentNullException.ThrowIfNull(keyword);
            if (value is null)
            {
                Remove(keyword);
            }
            else if (DsqlKeywords.Find(keyword) is { } own)
            {
                Store(own, own.Convert(value));
            }
            else
            {
                Apply(keyword, Convert.ToString(value, CultureInfo.InvariantCulture));
            }
        }
    }

    /// <summary>The keywords set to something other than their default, canonically spelled, in the order of <see cref="ToString"/>.</summary>
    public override ICollection Keys
    {
        get
        {
            var keys = new List<string>();
            foreach (var keyword in DsqlKeywords.All)
            {
                if (!IsDefault(keyword))
                {
                    keys.Add(keyword.Name);
                }
            }

            keys.AddRange(_npgsqlOptions.Keys.Order(StringComparer.OrdinalIgnoreCase));
            return new ReadOnlyCollection<string>(keys);
        }
    }

    /// <summary>
    /// Npgsql settings that are not DSQL settings, keyed by Npgsql's canonical keyword (for example
    /// <c>Include Error Detail</c>), with values in Npgsql's canonical form, to be passed through to Npgsql.
    /// Keys are case-insensitive.
    /// </summary>
    [Browsable(false)]
    public IReadOnlyDictionary<string, string> NpgsqlOptions => new ReadOnlyDictionary<string, string>(_npgsqlOptions);

    /// <summary>Whether the keyword is one this builder knows (a DSQL setting or an Npgsql option), set or not.</summary>
    /// <param name="keyword">The keyword.</param>
    public override bool ContainsKey(string keyword)
    {
        ArgumentNullException.ThrowIfNull(keyword);
        return DsqlKeywords.Find(keyword) is not null ||
               (DsqlKeywords.FindRefused(keyword) is null && NpgsqlPassThrough.Knows(keyword));
    }

    /// <summary>Restores a setting's default.</summary>
    /// <param name="keyword">The keyword.</param>
    /// <returns>Whether the setting differed from its default.</returns>
    public override bool Remove(string keyword)
    {
        ArgumentNullException.ThrowIfNull(keyword);
        if (DsqlKeywords.Find(keyword) is { } own)
        {
            var wasSet = !IsDefault(own);
            Store(own, own.DefaultValue);
            return wasSet;
        }

        return NpgsqlPassThrough.CanonicalKeyOf(keyword) is { } canonical && StoreNpgsqlOption(canonical, null);
    }

    /// <summary>Restores every default and removes every Npgsql option.</summary>
    public override void Clear()
    {
        base.Clear();
        _npgsqlOptions.Clear();
        ResetValues();
    }

    /// <summary>Whether the setting differs from its default (and so appears in the connection string).</summary>
    /// <param name="keyword">The keyword.</param>
    public override bool ShouldSerialize(string keyword)
    {
        ArgumentNullException.ThrowIfNull(keyword);
        return DsqlKeywords.Find(keyword) is { } own ? !IsDefault(own)
            : NpgsqlPassThrough.CanonicalKeyOf(keyword) is { } canonical && _npgsqlOptions.ContainsKey(canonical);
    }

    /// <summary>The value of a setting (see the indexer); false when the keyword is unknown or the setting has no value.</summary>
    /// <param name="keyword">The keyword.</param>
    /// <param name="value">The value: typed for DSQL settings, text for Npgsql options.</param>
    public override bool TryGetValue(string keyword, [NotNullWhen(true)] out object? value)
    {
        ArgumentNullException.ThrowIfNull(keyword);
        value = DsqlKeywords.Find(keyword) is { } own ? _values[own.Index]
            : NpgsqlPassThrough.CanonicalKeyOf(keyword) is { } canonical ? _npgsqlOptions.GetValueOrDefault(canonical)
            : null;
        return value is not null;
    }

    /// <summary>
    /// Applies one setting as if it appeared in a connection string: DSQL keywords set the matching property,
    /// other keywords Npgsql knows go to <see cref="NpgsqlOptions"/>. A null or empty value restores the default
    /// (or removes the Npgsql option). Call <see cref="Validate"/> when done.
    /// </summary>
    /// <param name="keyword">The keyword (case-insensitive; spaces and underscores ignored).</param>
    /// <param name="value">The value as it would appear in a connection string.</param>
    /// <exception cref="DsqlConfigurationException">The keyword is unknown or refused, or the value is malformed.</exception>
    public void Set(string keyword, string? value)
    {
        ArgumentNullException.ThrowIfNull(keyword);
        Apply(keyword, value);
    }

    /// <summary>
    /// The canonical <c>Key=Value;...</c> form of the settings that differ from their defaults (Host always first),
    /// followed by <see cref="NpgsqlOptions"/>. It parses back to equal settings. It never holds a secret: passwords
    /// and client-certificate passwords are refused on input.
    /// </summary>
    /// <returns>The connection string.</returns>
    public override string ToString()
    {
        var sb = new StringBuilder();
        foreach (var keyword in DsqlKeywords.All)
        {
            if (!IsDefault(keyword))
            {
                Append(sb, keyword.Name, keyword.Format(_values[keyword.Index]));
            }
        }

        foreach (var (key, value) in _npgsqlOptions.OrderBy(p => p.Key, StringComparer.OrdinalIgnoreCase))
        {
            Append(sb, key, value);
        }

        return sb.ToString();
    }

    /// <summary>The descriptors designers (property grids) show: the settings only, not the computed properties.</summary>
    /// <param name="propertyDescriptors">The descriptors by name.</param>
    protected override void GetProperties(Hashtable propertyDescriptors)
    {
        base.GetProperties(propertyDescriptors);
        foreach (var name in propertyDescriptors.Keys.Cast<string>().ToList())
        {
            if (DsqlKeywords.Find(name) is null && !_npgsqlOptions.ContainsKey(name))
            {
                propertyDescriptors.Remove(name);
            }
        }
    }

    /// <summary>The value of a keyword of the table.</summary>
    internal object? ValueOf(DsqlKeyword keyword) => _values[keyword.Index];

    private T Get<T>(DsqlKeyword<T> keyword) => (T)_values[keyword.Index]!;

    private void Put<T>(DsqlKeyword<T> keyword, T value) => Store(keyword, value);

    private bool IsDefault(DsqlKeyword keyword) => Equals(_values[keyword.Index], keyword.DefaultValue);

    private void Store(DsqlKeyword keyword, object? value)
    {
        _values[keyword.Index] = value;
        if (IsDefault(keyword))
        {
            base.Remove(keyword.Name);
        }
        else
        {
            base[keyword.Name] = keyword.Format(value);
        }
    }

    /// <summary>Sets or (with null) removes an Npgsql option; returns whether it was set before.</summary>
    private bool StoreNpgsqlOption(string canonicalKey, string? value)
    {
        var wasSet = _npgsqlOptions.ContainsKey(canonicalKey);
        if (value is null)
        {
            _npgsqlOptions.Remove(canonicalKey);
            base.Remove(canonicalKey);
        }
        else
        {
            _npgsqlOptions[canonicalKey] = value;
            base[canonicalKey] = value;
        }

        return wasSet;
    }

    private void ResetValues()
    {
        foreach (var keyword in DsqlKeywords.All)
        {
            _values[keyword.Index] = keyword.DefaultValue;
        }
    }

    /// <summary>Reads a connection string into this builder (a Host given twice is refused).</summary>
    private void Load(string connectionString)
    {
        string? host = null;
        foreach (var (key, value) in DsqlConnectionStringParser.Read(connectionString))
        {
            if (DsqlKeywords.Find(key) == DsqlKeywords.Host && value.Trim() is { Length: > 0 } given)
            {
                if (host is not null)
                {
                    throw DsqlSettingsValidator.HostGivenTwice(host, given);
                }

                host = given;
            }

            Apply(key, value);
        }
    }

    /// <summary>One keyword and its text: a DSQL setting, a refusal, or an Npgsql option.</summary>
    private void Apply(string rawKey, string? value)
    {
        var key = rawKey.Trim();
        if (key.Length == 0)
        {
            throw new DsqlConfigurationException("ConnectionString", "A setting has an empty keyword.");
        }

        if (DsqlKeywords.FindRefused(key) is { } refused)
        {
            throw refused.Exception();
        }

        if (DsqlKeywords.Find(key) is { } own)
        {
            Store(own, own.Parse(value));
            return;
        }

        var option = NpgsqlPassThrough.Read(key, value);
        if (option.Own is { } synonym)
        {
            Store(synonym, synonym.Parse(value));
        }
        else
        {
            StoreNpgsqlOption(option.Key, option.Value);
        }
    }

    private static void Append(StringBuilder sb, string key, string value)
    {
        if (sb.Length > 0)
        {
            sb.Append(';');
        }

        sb.Append(key).Append('=').Append(DsqlSettingText.Quote(value));
    }
}
