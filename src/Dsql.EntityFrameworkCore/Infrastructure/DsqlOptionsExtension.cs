using Dsql.Connector;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Dsql.EntityFrameworkCore.Infrastructure;

/// <summary>
/// The options extension <c>UseDsql()</c> adds beside Npgsql's: it carries the data source and the DSQL options, and
/// replaces the provider services whose behaviour DSQL needs changed (transactions, execution strategy, migrations).
/// </summary>
internal sealed class DsqlOptionsExtension : IDbContextOptionsExtension
{
    private DbContextOptionsExtensionInfo? _info;

    public DsqlOptionsExtension()
    {
    }

    private DsqlOptionsExtension(DsqlOptionsExtension copyFrom)
    {
        DataSource = copyFrom.DataSource;
        Options = copyFrom.Options;
    }

    public DsqlDataSource? DataSource { get; private set; }

    public DsqlEfOptions Options { get; private set; } = new();

    public DbContextOptionsExtensionInfo Info => _info ??= new ExtensionInfo(this);

    public DsqlOptionsExtension WithDataSource(DsqlDataSource dataSource) => new(this) { DataSource = dataSource };

    public DsqlOptionsExtension WithOptions(DsqlEfOptions options) => new(this) { Options = options };

    /// <summary>Replaces Npgsql's provider services with DSQL's. Called after Npgsql's extension added its own.</summary>
    public void ApplyServices(IServiceCollection services)
    {
        DsqlServices.Add(services);
    }

    public void Validate(IDbContextOptions options)
    {
    }

    private sealed class ExtensionInfo(DsqlOptionsExtension extension) : DbContextOptionsExtensionInfo(extension)
    {
        private new DsqlOptionsExtension Extension => (DsqlOptionsExtension)base.Extension;

        public override bool IsDatabaseProvider => false;

        public override string LogFragment => "using DSQL ";

        public override int GetServiceProviderHashCode() => Extension.Options.GetHashCode();

        public override bool ShouldUseSameServiceProvider(DbContextOptionsExtensionInfo other)
            => other is ExtensionInfo info && Equals(info.Extension.Options, Extension.Options);

        public override void PopulateDebugInfo(IDictionary<string, string> debugInfo)
            => debugInfo["Dsql:Options"] = Extension.Options.GetHashCode().ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
