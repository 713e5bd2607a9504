using System.Reflection;
using Dsql.Emulator;

namespace Dsql.Connector.Tests;

/// <summary>
/// The configuration model as data: the keyword table agrees with the builder's properties, and every DSQL quota
/// has one home (DsqlQuotas) that the connector's defaults, its error texts and the emulator's limits all read.
/// </summary>
public sealed class ConfigurationModelTests
{
    [Fact]
    public void Every_keyword_sets_a_public_property_of_its_type_and_default()
    {
        var fresh = new DsqlConnectionStringBuilder();
        foreach (var keyword in DsqlKeywords.All)
        {
            var property = typeof(DsqlConnectionStringBuilder).GetProperty(keyword.Property, BindingFlags.Public | BindingFlags.Instance);
            Assert.NotNull(property);
            Assert.Equal(Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType, keyword.ValueType);
            Assert.Equal(keyword.DefaultValue, property.GetValue(fresh));
            Assert.Same(keyword, DsqlKeywords.Find(keyword.Name));
            Assert.Same(keyword, DsqlKeywords.Find(keyword.Property));
            foreach (var synonym in keyword.Synonyms)
            {
                Assert.Same(keyword, DsqlKeywords.Find(synonym));
                Assert.Same(keyword, DsqlKeywords.Find(synonym.ToUpperInvariant().Replace(' ', '_')));
            }
        }
    }

    [Fact]
    public void Every_settable_property_has_a_keyword()
    {
        var computed = new[] { "ClusterId", "Endpoint", "NpgsqlOptions", "ConnectionString", "Keys" };
        var settable = typeof(DsqlConnectionStringBuilder)
            .GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
            .Where(p => p.GetIndexParameters().Length == 0 && !computed.Contains(p.Name))
            .Select(p => p.Name)
            .Order();
        Assert.Equal(DsqlKeywords.All.Select(k => k.Property).Order(), settable);
    }

    [Fact]
    public void Formatted_values_parse_back_to_themselves()
    {
        var samples = new Dictionary<string, object?>
        {
            ["Port"] = 6543, ["TokenLifetime"] = TimeSpan.FromSeconds(61), ["ConnectionLifetime"] = TimeSpan.FromMinutes(30),
            ["ConnectionRatePerSecond"] = 0.1, ["Pooling"] = false, ["SslMode"] = Npgsql.SslMode.VerifyCA,
            ["ApplicationName"] = " x;y ", ["ConnectionIdleLifetime"] = TimeSpan.FromMilliseconds(1500),
        };
        foreach (var keyword in DsqlKeywords.All)
        {
            var value = samples.GetValueOrDefault(keyword.Property, keyword.DefaultValue);
            if (value is null)
            {
                continue;
            }

            Assert.Equal(value, keyword.Parse(keyword.Format(value)));
        }
    }

    [Fact]
    public void Refused_keywords_are_not_settings()
    {
        foreach (var refused in DsqlKeywords.Refused)
        {
            Assert.Null(DsqlKeywords.Find(refused.Property));
            Assert.Same(refused, DsqlKeywords.FindRefused(refused.Property));
            Assert.Contains("not accepted", refused.Refusal, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Public_constants_and_defaults_are_the_quotas()
    {
        Assert.Equal(DsqlQuotas.Port, DsqlConnectionStringBuilder.DefaultPort);
        Assert.Equal(DsqlQuotas.MaxConnections, DsqlConnectionStringBuilder.MaximumPoolSizeLimit);
        Assert.Equal(DsqlQuotas.MaxTokenLifetime, DsqlConnectionStringBuilder.MaximumTokenLifetime);
        Assert.Equal(DsqlQuotas.MaxTokenLifetime, DsqlTokenGenerator.MaximumExpiry);
        Assert.Equal(DsqlQuotas.DefaultTokenLifetime, DsqlTokenGenerator.DefaultExpiry);
        Assert.Equal(DsqlQuotas.MaxTransactionAge, DsqlTransactionOptions.DsqlTransactionLimit);
        Assert.True(DsqlTransactionOptions.DefaultTimeout < DsqlQuotas.MaxTransactionAge);
        Assert.Equal(TimeSpan.FromMinutes(54), DsqlConnectionStringBuilder.MaximumConnectionLifetime);
        Assert.True(DsqlConnectionStringBuilder.MaximumConnectionLifetime + DsqlQuotas.MaxTransactionAge < DsqlQuotas.MaxConnectionAge);

        var fresh = new DsqlConnectionStringBuilder();
        Assert.Equal(DsqlQuotas.ConnectionRatePerSecond, fresh.ConnectionRatePerSecond);
        Assert.Equal(DsqlQuotas.ConnectionBurst, fresh.ConnectionBurst);
        Assert.Equal(DsqlQuotas.DefaultTokenLifetime, fresh.TokenLifetime);
    }

    [Fact]
    public void The_emulator_enforces_the_same_quotas()
    {
        // By reference: the emulator compiles the connector's DsqlQuotas.cs. Its options are what it enforces.
        var emulator = new DsqlEmulatorOptions();
        Assert.Equal(DsqlQuotas.MaxConnections, emulator.MaxConnections);
        Assert.Equal(DsqlQuotas.ConnectionRatePerSecond, emulator.ConnectionRatePerSecond);
        Assert.Equal(DsqlQuotas.ConnectionBurst, emulator.ConnectionBurst);
        Assert.Equal(DsqlQuotas.MaxConnectionAge, emulator.MaxConnectionAge);
        Assert.Equal(DsqlQuotas.MaxTransactionAge, emulator.MaxTransactionAge);
        Assert.Equal(DsqlQuotas.MaxRowsPerTransaction, emulator.MaxRowsPerTransaction);
        Assert.Equal(DsqlQuotas.MaxBytesPerTransaction, emulator.MaxBytesPerTransaction);

        // And every quota the emulator's copy holds has the connector's value (a copy edited by hand would differ).
        var copy = typeof(DsqlEmulatorOptions).Assembly.GetType("Dsql.DsqlQuotas", throwOnError: true)!;
        var fields = copy.GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static);
        Assert.NotEmpty(fields);
        foreach (var field in fields)
        {
            var own = typeof(DsqlQuotas).GetField(field.Name, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static);
            Assert.NotNull(own);
            Assert.Equal(own.GetValue(null), field.GetValue(null));
        }
    }

    [Theory]
    [InlineData(DsqlLimit.RowsPerTransaction, "3,000 rows")]
    [InlineData(DsqlLimit.TransactionSize, "10 MiB")]
    [InlineData(DsqlLimit.TransactionAge, "300 s")]
    [InlineData(DsqlLimit.ConnectionRate, "100 new connections per second per cluster (burst 1,000)")]
    [InlineData(DsqlLimit.OpenConnections, "10,000 open connections")]
    [InlineData(DsqlLimit.QueryMemory, "128 MiB")]
    [InlineData(DsqlLimit.RowSize, "2 MiB")]
    [InlineData(DsqlLimit.ColumnSize, "1 MiB")]
    [InlineData(DsqlLimit.KeySize, "1 KiB")]
    [InlineData(DsqlLimit.ColumnsPerTable, "255 columns")]
    [InlineData(DsqlLimit.ColumnsPerIndex, "8 columns")]
    public void Limit_texts_fall_back_to_the_quotas(DsqlLimit limit, string expected)
    {
        Assert.Contains(expected, DsqlLimitText.Describe(limit, "").Description, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_limit_has_its_three_texts_with_the_value_in_them()
    {
        foreach (var limit in Enum.GetValues<DsqlLimit>().Where(l => l != DsqlLimit.Other))
        {
            var text = DsqlLimitText.Describe(limit, "");
            foreach (var part in new[] { text.Description, text.What, text.Advice })
            {
                Assert.False(string.IsNullOrWhiteSpace(part), $"{limit}: an empty text");
                Assert.DoesNotContain("{0}", part, StringComparison.Ordinal);
            }
            Assert.NotEqual("a DSQL quota (see the server's message)", text.Description);
            Assert.Matches("[0-9]", text.Description);
        }
    }
}
