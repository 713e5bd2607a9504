// EF Core on Aurora DSQL: a DbContext with a migration, writes inside the execution strategy, reads them back.
//   dotnet run --project samples/EfCore -c Release              runs against a local DSQL emulator it starts
//   DSQL_ENDPOINT=<id>.dsql.<region>.on.aws dotnet run --project samples/EfCore -c Release
//                                  runs against your cluster (default AWS credentials; DSQL_REGION optional):
//                                  it creates the tables shop_customers and shop_orders and adds one customer per run
using Amazon.Runtime;
using Dsql.Connector;
using Dsql.Emulator;
using EfCore;

DsqlEmulator? emulator = null;
DsqlDataSource dataSource;
string? realEndpoint = Environment.GetEnvironmentVariable("DSQL_ENDPOINT") is { Length: > 0 } value ? value.Trim() : null;
if (realEndpoint is null)
{
    Console.WriteLine("DSQL_ENDPOINT is not set: starting the local DSQL emulator (a throwaway PostgreSQL behind a DSQL front end).");
    emulator = await DsqlEmulator.StartAsync();
    var endpoint = emulator.Endpoints[0];
    dataSource = new DsqlDataSourceBuilder($"Host={endpoint.Host};Host Address=127.0.0.1;Port={endpoint.Port};Root Certificate={endpoint.CaCertificatePath}")
        .UseCredentials(new BasicAWSCredentials(DsqlEmulatorOptions.ExampleAccessKeyId, DsqlEmulatorOptions.ExampleSecretAccessKey)) // the emulator accepts AWS's documented example key
        .Build();
}
else
{
    string? region = Environment.GetEnvironmentVariable("DSQL_REGION") is { Length: > 0 } r ? r.Trim() : null;
    Console.WriteLine($"DSQL_ENDPOINT is set: using {realEndpoint}{(region is null ? "" : $" in {region}")} with the AWS default credential chain.");
    dataSource = DsqlDataSource.Create($"Host={realEndpoint}" + (region is null ? "" : $";Region={region}"));
}

int exitCode = 0;
try
{
    await using (dataSource)
        await SampleRun.RunAsync(dataSource, Console.Out);
    Console.WriteLine();
    Console.WriteLine("Done.");
}
catch (Exception ex)
{
    Console.Error.WriteLine($"The sample failed: {ex}");
    exitCode = 1;
}
finally
{
    if (emulator is not null) await emulator.DisposeAsync();
}
return exitCode;
