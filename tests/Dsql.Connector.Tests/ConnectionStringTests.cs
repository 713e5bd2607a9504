using System.Globalization;
using System.Reflection;
using Npgsql;

namespace Dsql.Connector.Tests;

public class ConnectionStringTests
{
    internal const string Id = "abcdefghijklmnopqrstuvwxyz";
    internal const string E = Id + ".dsql.us-east-1.on.aws";

    private static string Read(DsqlConnectionStringBuilder b, string property)
    {
        var value = typeof(DsqlConnectionStringBuilder).GetProperty(property)!.GetValue(b);
        return value switch
        {
            null => "null",
            TimeSpan t => t.TotalSeconds.ToString(CultureInfo.InvariantCulture),
            double d => d.ToString(CultureInfo.InvariantCulture),
            bool x => x ? "true" : "false",
            _ => Convert.ToString(value, CultureInfo.InvariantCulture)!,
        };
    }

    internal static DsqlConfigurationException Fails(string connectionString, string setting, params string[] contains)
    {
        var e = Assert.Throws<DsqlConfigurationException>(() => new DsqlConnectionStringBuilder(connectionString));
        Assert.Equal(setting, e.Setting);
        foreach (var text in contains)
        {
            Assert.Contains(text, e.Message, StringComparison.Ordinal);
        }

        return e;
    }

    [Fact]
    public void Defaults_follow_DSQL_and_Npgsql()
    {
        var b = new DsqlConnectionStringBuilder("Host=" + E);
        Assert.Equal(E, b.Host);
        Assert.Equal(5432, b.Port);
        Assert.Equal("postgres", b.Database);
        Assert.Equal("admin", b.Username);
        Assert.Null(b.Region);
        Assert.Null(b.Profile);
        Assert.Equal(TimeSpan.FromSeconds(900), b.TokenLifetime);
        Assert.Null(b.HostAddress);
        Assert.Null(b.RootCertificate);
        Assert.Equal(SslMode.VerifyFull, b.SslMode);
        Assert.False(b.AllowInsecureTls);
        Assert.Equal(100, b.MaxPoolSize);
        Assert.Equal(0, b.MinPoolSize);
        Assert.Equal(TimeSpan.FromSeconds(300), b.ConnectionIdleLifetime);
        Assert.Null(b.ConnectionLifetime);
        Assert.True(b.Pooling);
        Assert.Equal(15, b.Timeout);
        Assert.Equal(30, b.CommandTimeout);
        Assert.Null(b.ApplicationName);
        Assert.Equal(100, b.ConnectionRatePerSecond);
        Assert.Equal(1000, b.ConnectionBurst);
        Assert.Equal(5, b.ConnectRetries);
        Assert.Empty(b.NpgsqlOptions);
        Assert.Equal(Id, b.ClusterId);
        Assert.Equal(E, b.Endpoint);
        Assert.Equal("us-east-1", b.ResolveRegion());
        Assert.Equal("Host=" + E, b.ToString());
    }

    [Theory]
    [InlineData("Port=6543", "Port", "6543")]
    [InlineData("port = 6543", "Port", "6543")]
    [InlineData("PORT=6543", "Port", "6543")]
    [InlineData("Database=postgres", "Database", "postgres")]
    [InlineData("DB=postgres", "Database", "postgres")]
    [InlineData("dbname=postgres", "Database", "postgres")]
    [InlineData("Username=app", "Username", "app")]
    [InlineData("User Name=app", "Username", "app")]
    [InlineData("User Id=app", "Username", "app")]
    [InlineData("UserId=app", "Username", "app")]
    [InlineData("UID=app", "Username", "app")]
    [InlineData("user=app", "Username", "app")]
    [InlineData("Region=us-east-1", "Region", "us-east-1")]
    [InlineData("Region=US-EAST-1", "Region", "US-EAST-1")]
    [InlineData("Profile=dev", "Profile", "dev")]
    [InlineData("AWS Profile=dev", "Profile", "dev")]
    [InlineData("Token Lifetime=600", "TokenLifetime", "600")]
    [InlineData("TokenLifetime=00:30:00", "TokenLifetime", "1800")]
    [InlineData("token_lifetime=604800", "TokenLifetime", "604800")]
    [InlineData("Token Lifetime=1.00:00:00", "TokenLifetime", "86400")]
    [InlineData("Host Address=127.0.0.1", "HostAddress", "127.0.0.1")]
    [InlineData("hostaddr=localhost", "HostAddress", "localhost")]
    [InlineData("HostAddress=::1", "HostAddress", "::1")]
    [InlineData("SSL Mode=VerifyFull", "SslMode", "VerifyFull")]
    [InlineData("sslmode=verify-full", "SslMode", "VerifyFull")]
    [InlineData("SslMode=VERIFY_FULL", "SslMode", "VerifyFull")]
    [InlineData("Allow Insecure Tls=true;SSL Mode=Require", "SslMode", "Require")]
    [InlineData("Allow Insecure Tls=true;sslmode=disable", "SslMode", "Disable")]
    [InlineData("AllowInsecureTls=yes;sslmode=verify-ca", "SslMode", "VerifyCA")]
    [InlineData("Allow Insecure Tls=true", "AllowInsecureTls", "true")]
    [InlineData("Maximum Pool Size=10", "MaxPoolSize", "10")]
    [InlineData("Max Pool Size=10", "MaxPoolSize", "10")]
    [InlineData("MaxPoolSize=10000", "MaxPoolSize", "10000")]
    [InlineData("Minimum Pool Size=2", "MinPoolSize", "2")]
    [InlineData("Min Pool Size=2", "MinPoolSize", "2")]
    [InlineData("Connection Idle Lifetime=60", "ConnectionIdleLifetime", "60")]
    [InlineData("Connection Lifetime=1800", "ConnectionLifetime", "1800")]
    [InlineData("Load Balance Timeout=1800", "ConnectionLifetime", "1800")]
    [InlineData("Connection Lifetime=00:54:00", "ConnectionLifetime", "3240")]
    [InlineData("Pooling=false", "Pooling", "false")]
    [InlineData("Timeout=5", "Timeout", "5")]
    [InlineData("connect_timeout=5", "Timeout", "5")]
    [InlineData("Connect Timeout=1024", "Timeout", "1024")]
    [InlineData("Command Timeout=0", "CommandTimeout", "0")]
    [InlineData("Application Name=orders", "ApplicationName", "orders")]
    [InlineData("application_name=orders", "ApplicationName", "orders")]
    [InlineData("ApplicationName=orders", "ApplicationName", "orders")]
    [InlineData("Connection Rate Per Second=50", "ConnectionRatePerSecond", "50")]
    [InlineData("Connection Rate Per Second=2.5", "ConnectionRatePerSecond", "2.5")]
    [InlineData("Connection Burst=10", "ConnectionBurst", "10")]
    [InlineData("Connect Retries=0", "ConnectRetries", "0")]
    [InlineData("Connect Retries=100", "ConnectRetries", "100")]
    [InlineData("Port=6543;Port=", "Port", "5432")]
    [InlineData("Application Name=x;Application Name=", "ApplicationName", "null")]
    public void Every_keyword_and_synonym_sets_its_property(string settings, string property, string expected)
    {
        var b = new DsqlConnectionStringBuilder($"Host={E};{settings}");
        Assert.Equal(expected, Read(b, property));
    }

    [Theory]
    [InlineData("Application Name='a;b'", "a;b")]
    [InlineData("Application Name=\"a;b\"", "a;b")]
    [InlineData("Application Name=\"say \"\"hi\"\"\"", "say \"hi\"")]
    [InlineData("Application Name='it''s'", "it's")]
    [InlineData("Application Name='say \"hi\"'", "say \"hi\"")]
    [InlineData("  Application Name  =   spaced out  ", "spaced out")]
    [InlineData("Application Name=\" padded \"", " padded ")]
    [InlineData("Application Name=a=b", "a=b")]
    [InlineData(";;Application Name=x;;", "x")]
    public void Values_can_be_quoted(string settings, string expected)
    {
        var b = new DsqlConnectionStringBuilder($"Host={E};{settings}");
        Assert.Equal(expected, b.ApplicationName);
    }

    [Theory]
    [InlineData("postgres://" + E, "Host", E)]
    [InlineData("postgres://" + E, "Port", "5432")]
    [InlineData("postgresql://admin@" + E + ":6543/postgres", "Port", "6543")]
    [InlineData("postgresql://admin@" + E + ":6543/postgres", "Username", "admin")]
    [InlineData("postgres://app@" + E, "Username", "app")]
    [InlineData("postgres://" + E + "/postgres", "Database", "postgres")]
    [InlineData("postgres://" + E + "/", "Database", "postgres")]
    [InlineData("postgres://" + E + ":/postgres", "Port", "5432")]
    [InlineData("postgres://admin@" + E + ":5432/postgres?region=us-east-1&profile=dev&tokenlifetime=600", "Profile", "dev")]
    [InlineData("postgres://admin@" + E + ":5432/postgres?region=us-east-1&profile=dev&tokenlifetime=600", "TokenLifetime", "600")]
    [InlineData("postgres://admin@" + E + ":5432/postgres?region=us-east-1&profile=dev&tokenlifetime=600", "Region", "us-east-1")]
    [InlineData("POSTGRESQL://" + E + "?Token%20Lifetime=120", "TokenLifetime", "120")]
    [InlineData("postgres://" + E + "?PROFILE=dev", "Profile", "dev")]
    [InlineData("postgres://my%2Duser@" + E, "Username", "my-user")]
    [InlineData("postgres://" + E + "?application_name=my%20app%3Bx%26y", "ApplicationName", "my app;x&y")]
    [InlineData("postgres://" + E + "?sslmode=verify-full", "SslMode", "VerifyFull")]
    [InlineData("postgres://" + E + "?sslmode=require&allowinsecuretls=true", "SslMode", "Require")]
    [InlineData("postgres://" + E + "?connect_timeout=7", "Timeout", "7")]
    [InlineData("postgres://" + E + "?hostaddr=127.0.0.1&port=15432", "HostAddress", "127.0.0.1")]
    [InlineData("postgres://" + E + "?hostaddr=127.0.0.1&port=15432", "Port", "15432")]
    [InlineData("postgres:///postgres?host=" + E, "Host", E)]
    [InlineData("postgres://" + E + "?user=app&dbname=postgres", "Username", "app")]
    [InlineData("postgres://" + E + "?Maximum%20Pool%20Size=7&&", "MaxPoolSize", "7")]
    [InlineData("postgres://" + E + "#fragment", "Host", E)]
    [InlineData("  postgres://" + E + "  ", "Host", E)]
    public void Uri_forms_set_properties(string uri, string property, string expected)
    {
        Assert.Equal(expected, Read(DsqlConnectionStringBuilder.Parse(uri), property));
    }

    [Fact]
    public void Uri_query_passes_Npgsql_options_through()
    {
        var b = DsqlConnectionStringBuilder.Parse("postgres://" + E + "?Include%20Error%20Detail=true&keepalive=30");
        Assert.Equal("True", b.NpgsqlOptions["Include Error Detail"]);
        Assert.Equal("30", b.NpgsqlOptions["Keepalive"]);
    }

    [Fact]
    public void Npgsql_options_pass_through_under_their_canonical_keyword()
    {
        var b = new DsqlConnectionStringBuilder(
            $"Host={E};include error detail=true;KeepAlive=30;SSL Negotiation=direct;Enlist=false;No Reset On Close=true;" +
            "Search Path='app, public';MaxAutoPrepare=20");
        Assert.Equal("True", b.NpgsqlOptions["Include Error Detail"]);
        Assert.Equal("30", b.NpgsqlOptions["Keepalive"]);
        Assert.Equal("Direct", b.NpgsqlOptions["SSL Negotiation"]);
        Assert.Equal("False", b.NpgsqlOptions["Enlist"]);
        Assert.Equal("True", b.NpgsqlOptions["No Reset On Close"]);
        Assert.Equal("app, public", b.NpgsqlOptions["Search Path"]);
        Assert.Equal("20", b.NpgsqlOptions["Max Auto Prepare"]);
        Assert.Equal("20", b.NpgsqlOptions["max auto prepare"]);
        Assert.Equal(7, b.NpgsqlOptions.Count);

        b.Set("Keepalive", "");
        Assert.False(b.NpgsqlOptions.ContainsKey("Keepalive"));
    }

    [Theory]
    [InlineData("Host=" + Id + ";Region=us-east-1", "us-east-1")]
    [InlineData("Host=" + Id + ";Region=eu-west-1", "eu-west-1")]
    [InlineData("Host=ABCDEFGHIJKLMNOPQRSTUVWXYZ;Region=AP-SOUTHEAST-2", "ap-southeast-2")]
    [InlineData("postgres://" + Id + "?region=us-gov-west-1", "us-gov-west-1")]
    public void Cluster_id_and_region_give_the_endpoint(string connectionString, string region)
    {
        var b = new DsqlConnectionStringBuilder(connectionString);
        Assert.Equal(Id, b.ClusterId);
        Assert.Equal(region, b.ResolveRegion());
        Assert.Equal($"{Id}.dsql.{region}.on.aws", b.Endpoint);
    }

    [Theory]
    [InlineData(Id + ".dsql-fnh4.us-west-2.on.aws", "us-west-2", Id)]
    [InlineData(Id + ".DSQL.EU-CENTRAL-1.ON.AWS", "eu-central-1", Id)]
    [InlineData("vpce-0123-abcd.dsql-fnh4.eu-west-1.on.aws", "eu-west-1", null)]
    [InlineData("shortid.dsql.us-east-2.on.aws", "us-east-2", null)]
    public void Region_is_read_from_the_endpoint_including_PrivateLink_names(string host, string region, string? clusterId)
    {
        var b = new DsqlConnectionStringBuilder("Host=" + host);
        Assert.Equal(region, b.ResolveRegion());
        Assert.Equal(clusterId, b.ClusterId);
        Assert.Equal(host.ToLowerInvariant(), b.Endpoint);
    }

    [Fact]
    public void Explicit_region_agreeing_with_the_endpoint_is_accepted()
    {
        var b = new DsqlConnectionStringBuilder($"Host={Id}.dsql-fnh4.us-west-2.on.aws;Region=US-WEST-2");
        Assert.Equal("us-west-2", b.ResolveRegion());
    }

    [Fact]
    public void Explicit_region_contradicting_the_endpoint_names_both()
    {
        var e = Fails($"Host={E};Region=us-west-2", "Region", "us-west-2", "us-east-1", E);
        Assert.Contains("contradicts", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Host_address_keeps_the_endpoint_for_tokens_and_tls()
    {
        var b = new DsqlConnectionStringBuilder($"Host={E};Host Address=127.0.0.1;Port=15432");
        Assert.Equal(E, b.Endpoint);
        Assert.Equal("127.0.0.1", b.HostAddress);
        Assert.Equal(15432, b.Port);
    }

    [Fact]
    public void Root_certificate_that_exists_is_accepted_and_round_trips()
    {
        var path = Path.Combine(Path.GetTempPath(), $"dsql csb; root {Guid.NewGuid():N}.pem");
        File.WriteAllText(path, "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
        try
        {
            var b = new DsqlConnectionStringBuilder($"Host={E};Root Certificate=\"{path}\"");
            Assert.Equal(path, b.RootCertificate);
            var uri = DsqlConnectionStringBuilder.Parse($"postgres://{E}?sslrootcert={Uri.EscapeDataString(path)}");
            Assert.Equal(path, uri.RootCertificate);
            Assert.Equal(path, DsqlConnectionStringBuilder.Parse(b.ToString()).RootCertificate);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("Port=70000", "Port", "'70000'")]
    [InlineData("Port=0", "Port", "'0'")]
    [InlineData("Port=abc", "Port", "'abc'")]
    [InlineData("Port=99999999999", "Port", "'99999999999'")]
    [InlineData("Database=mydb", "Database", "'mydb'")]
    [InlineData("Database=Postgres", "Database", "'Postgres'")]
    [InlineData("Username=' '", "Username", "' '")]
    [InlineData("Region=not a region", "Region", "'not a region'")]
    [InlineData("Region=useast1", "Region", "'useast1'")]
    [InlineData("Profile='my profile'", "Profile", "'my profile'")]
    [InlineData("Token Lifetime=0", "TokenLifetime", "'0'")]
    [InlineData("Token Lifetime=-5", "TokenLifetime", "'-5'")]
    [InlineData("Token Lifetime=604801", "TokenLifetime", "'604801'")]
    [InlineData("Token Lifetime=soon", "TokenLifetime", "'soon'")]
    [InlineData("Token Lifetime=15m", "TokenLifetime", "'15m'")]
    [InlineData("Token Lifetime=00:00:01.5", "TokenLifetime", "'00:00:01.5000000'")]
    [InlineData("Host Address=bad host!", "HostAddress", "'bad host!'")]
    [InlineData("Root Certificate=/nonexistent/dsql/ca.pem", "RootCertificate", "'/nonexistent/dsql/ca.pem'")]
    [InlineData("SSL Mode=Require", "SslMode", "'Require'", "Allow Insecure Tls")]
    [InlineData("sslmode=require", "SslMode", "'Require'", "Allow Insecure Tls")]
    [InlineData("SSL Mode=VerifyCA", "SslMode", "'VerifyCA'")]
    [InlineData("SSL Mode=Prefer", "SslMode", "'Prefer'")]
    [InlineData("SSL Mode=Allow", "SslMode", "'Allow'")]
    [InlineData("SSL Mode=Disable", "SslMode", "'Disable'")]
    [InlineData("SSL Mode=Disable;Allow Insecure Tls=false", "SslMode", "'Disable'")]
    [InlineData("SSL Mode=bogus", "SslMode", "'bogus'")]
    [InlineData("SSL Mode=5", "SslMode", "'5'")]
    [InlineData("Allow Insecure Tls=maybe", "AllowInsecureTls", "'maybe'")]
    [InlineData("Maximum Pool Size=0", "MaxPoolSize", "'0'")]
    [InlineData("Maximum Pool Size=10001", "MaxPoolSize", "'10001'")]
    [InlineData("Minimum Pool Size=-1", "MinPoolSize", "'-1'")]
    [InlineData("Minimum Pool Size=20;Maximum Pool Size=10", "MinPoolSize", "'20'", "'10'")]
    [InlineData("Connection Idle Lifetime=0", "ConnectionIdleLifetime", "'0'")]
    [InlineData("Connection Idle Lifetime=later", "ConnectionIdleLifetime", "'later'")]
    [InlineData("Connection Lifetime=0", "ConnectionLifetime", "'0'")]
    [InlineData("Connection Lifetime=3241", "ConnectionLifetime", "'3241'", "60 minutes", "5 minutes")]
    [InlineData("Connection Lifetime=01:00:00", "ConnectionLifetime", "'3600'", "60 minutes")]
    [InlineData("Pooling=perhaps", "Pooling", "'perhaps'")]
    [InlineData("Timeout=0", "Timeout", "'0'")]
    [InlineData("Timeout=1025", "Timeout", "'1025'")]
    [InlineData("Command Timeout=-1", "CommandTimeout", "'-1'")]
    [InlineData("Connection Rate Per Second=0", "ConnectionRatePerSecond", "'0'")]
    [InlineData("Connection Rate Per Second=-5", "ConnectionRatePerSecond", "'-5'")]
    [InlineData("Connection Rate Per Second=NaN", "ConnectionRatePerSecond", "'NaN'")]
    [InlineData("Connection Rate Per Second=fast", "ConnectionRatePerSecond", "'fast'")]
    [InlineData("Connection Burst=0", "ConnectionBurst", "'0'")]
    [InlineData("Connect Retries=101", "ConnectRetries", "'101'")]
    [InlineData("Connect Retries=-1", "ConnectRetries", "'-1'")]
    [InlineData("Frobnicate=1", "Frobnicate", "'Frobnicate'")]
    [InlineData("Keepalive=abc", "KeepAlive", "'abc'")]
    [InlineData("Enlist=true", "Enlist", "'true'", "PREPARE TRANSACTION")]
    [InlineData("No Reset On Close=false", "NoResetOnClose", "'false'", "DISCARD ALL")]
    [InlineData("Passfile=/root/.pgpass", "Passfile", "IAM")]
    [InlineData("Trust Server Certificate=true", "TrustServerCertificate", "Trust Server Certificate")]
    [InlineData("SSL Certificate=/tmp/client.crt", "SslCertificate", "client certificates")]
    [InlineData("SSL Key=/tmp/client.key", "SslKey", "client certificates")]
    [InlineData("Host=" + E, "Host", "twice", E)]
    [InlineData("Server=other" + E, "Host", "twice", "other" + E)]
    [InlineData("Application Name='unterminated", "ApplicationName", "never closed")]
    [InlineData("Application Name='x' y", "ApplicationName", "after its closing quote")]
    [InlineData("JustAKeyword", "JustAKeyword", "'JustAKeyword'")]
    [InlineData("PWD", "Password", "no value")]
    [InlineData("Max Pool Size", "MaxPoolSize", "no value")]
    [InlineData("SSL Mode=Disable;Allow Insecure Tls=true;SSL Negotiation=direct", "SslNegotiation", "'Direct'", "'Disable'")]
    public void Invalid_settings_name_the_setting_and_the_value(string settings, string setting, params string[] contains)
    {
        Fails($"Host={E};{settings}", setting, contains);
    }

    [Theory]
    [InlineData("", "Host", "''")]
    [InlineData("Port=5432", "Host", "''")]
    [InlineData("Host=  ", "Host", "empty")]
    [InlineData("Host=example.com", "Host", "'example.com'")]
    [InlineData("Host=localhost", "Host", "'localhost'", "Host Address")]
    [InlineData("Host=127.0.0.1", "Host", "'127.0.0.1'")]
    [InlineData("Host=" + E + ":5432", "Host", "'" + E + ":5432'")]
    [InlineData("Host=abc.dsql.us-east-1.on.aws.", "Host", "'abc.dsql.us-east-1.on.aws.'")]
    [InlineData("Host='" + E + "," + Id + "'", "Host", "'" + Id + "'", "cluster id")]
    [InlineData("Host=" + E + ";Server=" + E, "Host", "twice")]
    [InlineData("postgres://admin:secret@" + E, "Password", "IAM")]
    [InlineData("postgres://admin:@" + E, "Password", "IAM")]
    [InlineData("postgres://" + E + ":99999", "Port", "'99999'")]
    [InlineData("postgres://" + E + ":https", "Port", "'https'")]
    [InlineData("postgres://" + E + "/other", "Database", "'other'")]
    [InlineData("postgres://" + E + ":5432," + E + ":5433/postgres", "Host", "twice")]
    [InlineData("postgres://" + E + "?host=" + E, "Host", "twice")]
    [InlineData("postgres://" + E + "?nosuch=1", "nosuch", "'nosuch'")]
    [InlineData("postgres://" + E + "?region", "Region", "'region'")]
    [InlineData("postgres://" + E + "?sslmode=prefer", "SslMode", "'Prefer'")]
    [InlineData("postgres://" + E + "?tokenlifetime=0", "TokenLifetime", "'0'")]
    [InlineData("postgres://" + E + "?region=eu-west-1", "Region", "'eu-west-1'", "'us-east-1'")]
    [InlineData("postgres://" + E + "?sslcert=%2Ftmp%2Fc.crt", "SslCertificate", "client certificates")]
    [InlineData("postgres://[::1]:5432", "Host", "'[::1]'")]
    public void Invalid_hosts_and_uris_name_the_setting(string connectionString, string setting, params string[] contains)
    {
        Fails(connectionString, setting, contains);
    }

    [Theory]
    [InlineData("Host=" + E + ";Password=secret-value")]
    [InlineData("Host=" + E + ";PWD=secret-value")]
    [InlineData("Host=" + E + ";psw='secret-value'")]
    [InlineData("Host=" + E + ";Password='secret-value")]
    [InlineData("Host=" + E + ";SSL Password=secret-value")]
    [InlineData("postgres://admin:secret-value@" + E + "/postgres")]
    [InlineData("postgres://" + E + "?password=secret-value")]
    [InlineData("postgres://" + E + "?sslpassword=secret-value")]
    public void Passwords_are_refused_without_echoing_them(string connectionString)
    {
        var e = Assert.Throws<DsqlConfigurationException>(() => new DsqlConnectionStringBuilder(connectionString));
        Assert.Contains(e.Setting, new[] { "Password", "SslPassword" });
        Assert.DoesNotContain("secret", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("IAM", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Require")]
    [InlineData("VerifyCA")]
    [InlineData("Prefer")]
    [InlineData("Allow")]
    [InlineData("Disable")]
    [InlineData("verify-full")]
    public void Allow_insecure_tls_accepts_weaker_modes(string mode)
    {
        var b = new DsqlConnectionStringBuilder($"Host={E};SSL Mode={mode};Allow Insecure Tls=true");
        Assert.True(b.AllowInsecureTls);
        Assert.Equal(mode.Replace("-", "", StringComparison.Ordinal), b.SslMode.ToString(), ignoreCase: true);
    }

    [Theory]
    [InlineData("Host=" + E)]
    [InlineData("Host=" + E + ";Port=6543;Username=app;Profile=dev;Token Lifetime=00:10:00")]
    [InlineData("Host=" + Id + ";Region=eu-west-1")]
    [InlineData("Host=" + E + ";Host Address=127.0.0.1;SSL Mode=Require;Allow Insecure Tls=true")]
    [InlineData("Host=" + E + ";Max Pool Size=10;Min Pool Size=2;Connection Idle Lifetime=60;Connection Lifetime=1800;Pooling=false")]
    [InlineData("Host=" + E + ";Timeout=5;Command Timeout=0;Connection Rate Per Second=2.5;Connection Burst=10;Connect Retries=0")]
    [InlineData("Host=" + E + ";Application Name='a;b \"c\"'")]
    [InlineData("Host=" + E + ";Application Name=\"it's; \"\"quoted\"\"\"")]
    [InlineData("Host=" + E + ";Application Name=' padded '")]
    [InlineData("Host=" + E + ";Include Error Detail=true;Keepalive=30;Search Path='a;b';Enlist=false")]
    [InlineData("postgres://app@" + E + ":6543/postgres?profile=dev&tokenlifetime=600&application_name=x%3By")]
    public void ToString_round_trips(string connectionString)
    {
        var first = new DsqlConnectionStringBuilder(connectionString);
        var text = first.ToString();
        var second = new DsqlConnectionStringBuilder(text);
        // The builder's own properties (the indexer and the dictionary members of DbConnectionStringBuilder aside).
        foreach (var property in typeof(DsqlConnectionStringBuilder)
                     .GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
                     .Where(p => p.GetIndexParameters().Length == 0))
        {
            if (property.Name == nameof(DsqlConnectionStringBuilder.NpgsqlOptions))
            {
                Assert.Equal(first.NpgsqlOptions.OrderBy(p => p.Key), second.NpgsqlOptions.OrderBy(p => p.Key));
            }
            else
            {
                Assert.Equal(property.GetValue(first), property.GetValue(second));
            }
        }

        Assert.Equal(text, second.ToString());
    }

    [Fact]
    public void ToString_lists_only_settings_that_differ_from_defaults()
    {
        var b = new DsqlConnectionStringBuilder($"Host={E};Port=5432;Database=postgres;Username=admin;Token Lifetime=900;Max Pool Size=5");
        Assert.Equal($"Host={E};Maximum Pool Size=5", b.ToString());
    }

    [Fact]
    public void Parse_is_the_constructor()
    {
        const string text = "Host=" + E + ";Port=6543;Profile=dev";
        Assert.Equal(new DsqlConnectionStringBuilder(text).ToString(), DsqlConnectionStringBuilder.Parse(text).ToString());
        Assert.Throws<ArgumentNullException>(() => DsqlConnectionStringBuilder.Parse(null!));
    }

    [Fact]
    public void Properties_set_in_code_are_checked_by_Validate()
    {
        var b = new DsqlConnectionStringBuilder { Host = E, Port = 70000 };
        var e = Assert.Throws<DsqlConfigurationException>(b.Validate);
        Assert.Equal("Port", e.Setting);
        Assert.Contains("'70000'", e.Message, StringComparison.Ordinal);

        b.Port = 5432;
        b.ConnectionLifetime = TimeSpan.FromMinutes(55);
        e = Assert.Throws<DsqlConfigurationException>(b.Validate);
        Assert.Equal("ConnectionLifetime", e.Setting);
        Assert.Contains("'3300'", e.Message, StringComparison.Ordinal);

        b.ConnectionLifetime = TimeSpan.FromMinutes(54);
        b.Set("sslmode", "verify-full");
        b.Set("Include Error Detail", "true");
        b.Validate();
        Assert.Equal("True", b.NpgsqlOptions["Include Error Detail"]);
    }

    [Fact]
    public void Endpoint_of_an_invalid_host_throws()
    {
        var e = Assert.Throws<DsqlConfigurationException>(() => new DsqlConnectionStringBuilder().Endpoint);
        Assert.Equal("Host", e.Setting);
        Assert.Null(new DsqlConnectionStringBuilder().ClusterId);
    }

    [Fact]
    public void Exception_is_an_ArgumentException()
    {
        var e = Fails($"Host={E};Port=0", "Port", "Port '0' is not a port number (1-65535).");
        Assert.IsAssignableFrom<ArgumentException>(e);
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConnectionStringEnvironmentCollection
{
    public const string Name = "Connection string: AWS environment variables";
}

[Collection(ConnectionStringEnvironmentCollection.Name)]
public sealed class ConnectionStringEnvironmentTests : IDisposable
{
    private static readonly string[] Variables = ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"];
    private readonly Dictionary<string, string?> _saved = Variables.ToDictionary(v => v, Environment.GetEnvironmentVariable);

    public ConnectionStringEnvironmentTests()
    {
        foreach (var variable in Variables)
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    public void Dispose()
    {
        foreach (var (variable, value) in _saved)
        {
            Environment.SetEnvironmentVariable(variable, value);
        }
    }

    private static DsqlConnectionStringBuilder IdOnly() => new() { Host = ConnectionStringTests.Id };

    [Fact]
    public void Region_comes_from_AWS_REGION()
    {
        Environment.SetEnvironmentVariable("AWS_REGION", "eu-north-1");
        Environment.SetEnvironmentVariable("AWS_DEFAULT_REGION", "us-west-1");
        var b = new DsqlConnectionStringBuilder("Host=" + ConnectionStringTests.Id);
        Assert.Equal("eu-north-1", b.ResolveRegion());
        using var dataSource = new DsqlDataSourceBuilder(b).Build();
        Assert.Equal($"{ConnectionStringTests.Id}.dsql.eu-north-1.on.aws", dataSource.Endpoint);
        Assert.Equal("eu-north-1", dataSource.Region);
    }

    [Fact]
    public void Endpoint_getter_reads_no_environment()
    {
        Environment.SetEnvironmentVariable("AWS_REGION", "eu-north-1");
        var b = new DsqlConnectionStringBuilder("Host=" + ConnectionStringTests.Id);
        var e = Assert.Throws<DsqlConfigurationException>(() => b.Endpoint);
        Assert.Equal("Region", e.Setting);
        Assert.Contains("ResolveRegion()", e.Message, StringComparison.Ordinal);
        Assert.Contains("Set Region", e.Message, StringComparison.Ordinal);
        b.Region = "eu-west-3";
        Assert.Equal($"{ConnectionStringTests.Id}.dsql.eu-west-3.on.aws", b.Endpoint);
    }

    [Fact]
    public void Region_comes_from_AWS_DEFAULT_REGION_when_AWS_REGION_is_unset()
    {
        Environment.SetEnvironmentVariable("AWS_DEFAULT_REGION", "us-west-1");
        Assert.Equal("us-west-1", IdOnly().ResolveRegion(_ => "ap-south-1"));
    }

    [Fact]
    public void Endpoint_region_wins_over_the_environment()
    {
        Environment.SetEnvironmentVariable("AWS_REGION", "eu-north-1");
        Assert.Equal("us-east-1", new DsqlConnectionStringBuilder("Host=" + ConnectionStringTests.E).ResolveRegion());
    }

    [Fact]
    public void Explicit_region_wins_over_the_environment()
    {
        Environment.SetEnvironmentVariable("AWS_REGION", "eu-north-1");
        var b = new DsqlConnectionStringBuilder($"Host={ConnectionStringTests.Id};Region=sa-east-1");
        Assert.Equal("sa-east-1", b.ResolveRegion());
    }

    [Fact]
    public void Region_comes_from_the_profile_named_by_Profile_then_AWS_PROFILE_then_default()
    {
        var asked = new List<string>();
        string? Reader(string name)
        {
            asked.Add(name);
            return name switch { "dev" => "ap-south-1", "ops" => "ca-central-1", "default" => "eu-west-3", _ => null };
        }

        var b = IdOnly();
        Assert.Equal("eu-west-3", b.ResolveRegion(Reader));
        Environment.SetEnvironmentVariable("AWS_PROFILE", "ops");
        Assert.Equal("ca-central-1", b.ResolveRegion(Reader));
        b.Profile = "dev";
        Assert.Equal("ap-south-1", b.ResolveRegion(Reader));
        Assert.Equal(["default", "ops", "dev"], asked);
    }

    [Fact]
    public void No_region_anywhere_explains_every_source()
    {
        var b = IdOnly();
        b.Profile = "dev";
        var e = Assert.Throws<DsqlConfigurationException>(() => b.ResolveRegion(_ => null));
        Assert.Equal("Region", e.Setting);
        foreach (var text in new[] { ConnectionStringTests.Id, "Region=", "AWS_REGION", "AWS_DEFAULT_REGION", "'dev'", ".on.aws" })
        {
            Assert.Contains(text, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_failing_profile_read_is_reported()
    {
        var e = Assert.Throws<DsqlConfigurationException>(
            () => IdOnly().ResolveRegion(_ => throw new InvalidOperationException("config file is broken")));
        Assert.Equal("Region", e.Setting);
        Assert.Contains("config file is broken", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cluster_id_without_any_region_parses_and_fails_to_build()
    {
        // A profile name that no configuration on any machine defines, so the real AWS profile chain finds nothing.
        // Parsing reads no environment and no AWS config file; building resolves the Region and explains every source.
        var builder = new DsqlDataSourceBuilder(
            $"Host={ConnectionStringTests.Id};Profile=dsql-connector-tests-no-such-profile-7f3c");
        var e = Assert.Throws<DsqlConfigurationException>(() => builder.Build());
        Assert.Equal("Region", e.Setting);
        foreach (var text in new[] { ConnectionStringTests.Id, "dsql-connector-tests-no-such-profile-7f3c", "AWS_REGION" })
        {
            Assert.Contains(text, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Parsing_and_validating_read_no_environment_building_does()
    {
        Environment.SetEnvironmentVariable("AWS_REGION", "mars base");
        var settings = new DsqlConnectionStringBuilder("Host=" + ConnectionStringTests.Id);
        settings.Validate();
        Assert.Equal(ConnectionStringTests.Id, settings.ClusterId);
        var e = Assert.Throws<DsqlConfigurationException>(() => new DsqlDataSourceBuilder(settings).Build());
        Assert.Equal("Region", e.Setting);
        Assert.Contains("'mars base'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_AWS_REGION_is_named()
    {
        Environment.SetEnvironmentVariable("AWS_REGION", "mars base");
        var e = Assert.Throws<DsqlConfigurationException>(() => IdOnly().ResolveRegion());
        Assert.Equal("Region", e.Setting);
        Assert.Contains("'mars base'", e.Message, StringComparison.Ordinal);
        Assert.Contains("AWS_REGION", e.Message, StringComparison.Ordinal);
    }
}
