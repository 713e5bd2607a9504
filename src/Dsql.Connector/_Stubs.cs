using Amazon.Runtime;
namespace Dsql.Connector
{
    /// <summary>stub</summary>
    public sealed class DsqlConfigurationException(string setting, string message) : ArgumentException(message) { /// <summary>stub</summary>
    public string Setting { get; } = setting; }
    /// <summary>stub</summary>
    public sealed class DsqlConnectionStringBuilder
    {
        /// <summary>stub</summary>
        public DsqlConnectionStringBuilder(string s) { }
        /// <summary>stub</summary>
        public string Endpoint => ""; /// <summary>stub</summary>
        public string? HostAddress => null; /// <summary>stub</summary>
        public int Port => 5432; /// <summary>stub</summary>
        public string Database => "postgres"; /// <summary>stub</summary>
        public string Username => "admin"; /// <summary>stub</summary>
        public string? Profile => null; /// <summary>stub</summary>
        public TimeSpan TokenLifetime => TimeSpan.FromSeconds(900); /// <summary>stub</summary>
        public string? RootCertificate => null; /// <summary>stub</summary>
        public Npgsql.SslMode? SslMode => null; /// <summary>stub</summary>
        public bool AllowInsecureTls => false; /// <summary>stub</summary>
        public int MaxPoolSize => 100; /// <summary>stub</summary>
        public int MinPoolSize => 0; /// <summary>stub</summary>
        public TimeSpan ConnectionIdleLifetime => TimeSpan.FromSeconds(300); /// <summary>stub</summary>
        public TimeSpan? ConnectionLifetime => null; /// <summary>stub</summary>
        public bool Pooling => true; /// <summary>stub</summary>
        public int Timeout => 15; /// <summary>stub</summary>
        public int CommandTimeout => 30; /// <summary>stub</summary>
        public string? ApplicationName => null; /// <summary>stub</summary>
        public double ConnectionRatePerSecond => 100; /// <summary>stub</summary>
        public int ConnectionBurst => 1000; /// <summary>stub</summary>
        public int ConnectRetries => 5; /// <summary>stub</summary>
        public IReadOnlyDictionary<string, string> NpgsqlOptions => new Dictionary<string, string>(); /// <summary>stub</summary>
        public string ResolveRegion() => "us-east-1"; /// <summary>stub</summary>
        public void Validate() { }
    }
}
