using System.Data.Common;
using Npgsql;

namespace Dsql.Connector.Tests;

/// <summary>The builder as a <see cref="DbConnectionStringBuilder"/>, the way NpgsqlConnectionStringBuilder is one.</summary>
public sealed class ConnectionStringDictionaryTests
{
    private const string E = ConnectionStringTests.E;

    [Fact]
    public void Indexer_reads_typed_values_under_any_spelling()
    {
        var b = new DsqlConnectionStringBuilder($"Host={E};Max Pool Size=7");
        DbConnectionStringBuilder asBase = b;
        Assert.Equal(E, asBase["host"]);
        Assert.Equal(E, asBase["SERVER"]);
        Assert.Equal(7, asBase["maximum pool size"]);
        Assert.Equal(7, asBase["MaxPoolSize"]);
        Assert.Equal(5432, asBase["Port"]);
        Assert.Equal("admin", asBase["UID"]);
        Assert.Equal(TimeSpan.FromSeconds(900), asBase["token_lifetime"]);
        Assert.Equal(SslMode.VerifyFull, asBase["sslmode"]);
        Assert.True((bool)asBase["Pooling"]);
        Assert.Null(asBase["Region"]);
        Assert.Null(asBase["Include Error Detail"]);
    }

    [Fact]
    public void Indexer_writes_typed_values_or_their_text()
    {
        var b = new DsqlConnectionStringBuilder { Host = E };
        b["Port"] = 6543;
        b["Token Lifetime"] = 600;
        b["connection lifetime"] = "00:30:00";
        b["Pooling"] = "false";
        b["Allow Insecure Tls"] = true;
        b["SSL Mode"] = SslMode.Require;
        b["Connection Rate Per Second"] = 2.5;
        b["Include Error Detail"] = true;
        b.Validate();
        Assert.Equal(6543, b.Port);
        Assert.Equal(TimeSpan.FromSeconds(600), b.TokenLifetime);
        Assert.Equal(TimeSpan.FromMinutes(30), b.ConnectionLifetime);
        Assert.False(b.Pooling);
        Assert.Equal(SslMode.Require, b.SslMode);
        Assert.Equal(2.5, b.ConnectionRatePerSecond);
        Assert.Equal("True", b.NpgsqlOptions["Include Error Detail"]);
        Assert.Equal("True", b["include error detail"]);

        b["Port"] = null;
        Assert.Equal(5432, b.Port);
    }

    [Fact]
    public void Indexer_errors_name_the_keyword_and_the_value()
    {
        var b = new DsqlConnectionStringBuilder { Host = E };
        var e = Assert.Throws<DsqlConfigurationException>(() => b["Port"] = "abc");
        Assert.Equal("Port", e.Setting);
        Assert.Contains("'abc'", e.Message, StringComparison.Ordinal);

        e = Assert.Throws<DsqlConfigurationException>(() => b["Frobnicate"]);
        Assert.Equal("Frobnicate", e.Setting);
        Assert.Contains("Unknown connection string keyword", e.Message, StringComparison.Ordinal);

        e = Assert.Throws<DsqlConfigurationException>(() => b["Password"] = "secret-value");
        Assert.Equal("Password", e.Setting);
        Assert.DoesNotContain("secret", e.Message, StringComparison.OrdinalIgnoreCase);

        e = Assert.Throws<DsqlConfigurationException>(() => b["Enlist"] = true);
        Assert.Equal("Enlist", e.Setting);
        Assert.Equal(5432, b.Port);
    }

    [Fact]
    public void Keys_are_the_settings_that_differ_from_their_defaults_in_canonical_order()
    {
        var b = new DsqlConnectionStringBuilder();
        Assert.Empty(b.Keys);

        b["keepalive"] = 30;
        b.MaxPoolSize = 5;
        b.Port = 6543;
        b.Host = E;
        b.Username = "admin";
        Assert.Equal(["Host", "Port", "Maximum Pool Size", "Keepalive"], b.Keys.Cast<string>());
        Assert.Equal(4, b.Count);
        Assert.Equal([E, 6543, 5, "30"], b.Values.Cast<object>());

        b.Port = 5432;
        Assert.Equal(["Host", "Maximum Pool Size", "Keepalive"], b.Keys.Cast<string>());
        Assert.True(b.ShouldSerialize("max pool size"));
        Assert.False(b.ShouldSerialize("Port"));
    }

    [Fact]
    public void ContainsKey_knows_every_DSQL_and_Npgsql_keyword_set_or_not()
    {
        var b = new DsqlConnectionStringBuilder();
        foreach (var keyword in new[] { "Host", "server", "Token Lifetime", "hostaddr", "sslrootcert", "Keepalive", "Search Path" })
        {
            Assert.True(b.ContainsKey(keyword), keyword);
        }

        foreach (var keyword in new[] { "Password", "Trust Server Certificate", "Frobnicate" })
        {
            Assert.False(b.ContainsKey(keyword), keyword);
        }
    }

    [Fact]
    public void Remove_and_Clear_restore_defaults()
    {
        var b = new DsqlConnectionStringBuilder($"Host={E};Port=6543;Keepalive=30;Pooling=false");
        Assert.True(b.Remove("PORT"));
        Assert.False(b.Remove("Port"));
        Assert.Equal(5432, b.Port);
        Assert.True(b.Remove("keepalive"));
        Assert.Empty(b.NpgsqlOptions);
        Assert.False(b.Remove("Frobnicate"));

        b.Clear();
        Assert.Null(b.Host);
        Assert.True(b.Pooling);
        Assert.Empty(b.Keys);
        Assert.Equal("", b.ToString());
    }

    [Fact]
    public void TryGetValue_is_false_for_unknown_keywords_and_settings_without_value()
    {
        var b = new DsqlConnectionStringBuilder();
        Assert.False(b.TryGetValue("Host", out _));
        Assert.False(b.TryGetValue("Frobnicate", out _));
        Assert.False(b.TryGetValue("Keepalive", out _));
        Assert.True(b.TryGetValue("Connect Retries", out var retries));
        Assert.Equal(5, retries);
    }

    [Fact]
    public void ConnectionString_is_ToString_and_setting_it_replaces_every_setting()
    {
        var b = new DsqlConnectionStringBuilder($"Host={E};Port=6543;Keepalive=30");
        Assert.Equal(b.ToString(), b.ConnectionString);

        b.ConnectionString = $"postgres://app@{E}?profile=dev";
        Assert.Equal(5432, b.Port);
        Assert.Equal("app", b.Username);
        Assert.Equal("dev", b.Profile);
        Assert.Empty(b.NpgsqlOptions);
        Assert.Equal($"Host={E};Username=app;Profile=dev", b.ConnectionString);

        var before = b.ConnectionString;
        Assert.Throws<DsqlConfigurationException>(() => b.ConnectionString = $"Host={E};Port=abc");
        Assert.Equal(before, b.ConnectionString);
    }

    [Theory]
    [InlineData("Host=" + E + ";Port=6543;Token Lifetime=00:10:00;Connection Lifetime=1800;Pooling=false")]
    [InlineData("Host=" + E + ";Application Name='a;b \"c\"';Connection Rate Per Second=2.5;Search Path='a, b'")]
    [InlineData("Host=" + E + ";SSL Mode=Require;Allow Insecure Tls=true;Include Error Detail=true")]
    public void The_base_class_connection_string_parses_back_to_the_same_settings(string connectionString)
    {
        var first = new DsqlConnectionStringBuilder(connectionString);
        var text = ((DbConnectionStringBuilder)first).ConnectionString;
        var second = new DsqlConnectionStringBuilder(text);
        Assert.Equal(first.ToString(), second.ToString());
        Assert.True(first.EquivalentTo(second));
    }

    [Fact]
    public void Designers_see_the_settings_and_can_read_each()
    {
        var b = new DsqlConnectionStringBuilder($"Host={ConnectionStringTests.Id};Max Pool Size=5;Keepalive=30");
        var descriptors = System.ComponentModel.TypeDescriptor.GetProperties(b);
        Assert.NotNull(descriptors.Find("Port", ignoreCase: false));
        Assert.Null(descriptors.Find("Endpoint", ignoreCase: false));
        foreach (System.ComponentModel.PropertyDescriptor descriptor in descriptors)
        {
            _ = descriptor.GetValue(b);
        }
    }

    [Fact]
    public void Keyword_spellings_make_equivalent_builders()
    {
        var a = new DsqlConnectionStringBuilder($"Host={E};Max Pool Size=5;sslmode=verify-full");
        var b = new DsqlConnectionStringBuilder($"server={E};MaximumPoolSize=5");
        Assert.Equal(a.ToString(), b.ToString());
        Assert.True(a.EquivalentTo(b));
    }
}

/// <summary>Host given twice is refused, and the refusal says how to name several endpoints instead.</summary>
public sealed class HostGivenTwiceTests
{
    private const string Other = ConnectionStringTests.Id + ".dsql.us-west-2.on.aws";

    [Theory]
    [InlineData("Host=" + ConnectionStringTests.E + ";Server=" + Other)]
    [InlineData("postgres://" + ConnectionStringTests.E + "?host=" + Other)]
    public void Host_given_twice_is_refused_with_the_list_form(string connectionString)
    {
        var e = Assert.Throws<DsqlConfigurationException>(() => new DsqlConnectionStringBuilder(connectionString));
        Assert.Equal("Host", e.Setting);
        Assert.Contains(Other, e.Message, StringComparison.Ordinal);
        Assert.Contains($"Host={ConnectionStringTests.E},{Other}", e.Message, StringComparison.Ordinal);
        Assert.Contains("Host Address", e.Message, StringComparison.Ordinal);
    }
}
