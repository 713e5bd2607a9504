// A minimal API on Aurora DSQL: accounts and transfers, a health endpoint, DSQL errors as ProblemDetails.
// Configuration: the "Dsql" section (appsettings.json, environment variables Dsql__Host=..., command line).
// Credentials: an AWSCredentials registered in the container if there is one, else the Profile setting, else
// the AWS default credential chain (environment, shared files, SSO, web identity, container/instance roles).
using Dsql.Connector;
using Dsql.Samples.AspNetCore;

var builder = WebApplication.CreateBuilder(args);

// Reads and checks the "Dsql" section now: a bad section stops the application here, with every problem listed.
builder.Services.AddDsql(builder.Configuration);
builder.Services.AddHealthChecks().AddDsql();
builder.Services.AddHostedService<AccountsSchema>();
builder.Services.AddProblemDetails();
builder.Services.AddExceptionHandler<DsqlExceptionHandler>();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();

app.MapHealthChecks("/health", new() { ResponseWriter = HealthResponse.WriteAsync });
app.MapAccounts();

app.Run();

/// <summary>The application's entry point; public so that tests can host it with WebApplicationFactory.</summary>
public partial class Program;
