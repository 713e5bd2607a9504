using Dsql.Connector;
using Microsoft.AspNetCore.Diagnostics;

namespace Dsql.Samples.AspNetCore;

/// <summary>
/// Turns the connector's typed DSQL errors into ProblemDetails responses: a client can tell "try again later" (503),
/// "lost a race, try again" (409) and "took too long" (504) apart. Other exceptions fall through to the default 500.
/// </summary>
internal sealed class DsqlExceptionHandler(IProblemDetailsService problemDetails, ILogger<DsqlExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        (int status, string title, TimeSpan? retryAfter) = exception switch
        {
            DsqlLimitExceededException { Limit: DsqlLimit.ConnectionRate or DsqlLimit.OpenConnections } => (StatusCodes.Status503ServiceUnavailable, "DSQL is throttling connections", TimeSpan.FromSeconds(1)),
            DsqlLimitExceededException { Limit: DsqlLimit.QueryMemory } => (StatusCodes.Status503ServiceUnavailable, "DSQL limit reached", (TimeSpan?)null),
            DsqlLimitExceededException => (StatusCodes.Status422UnprocessableEntity, "DSQL limit exceeded", null),
            DsqlTransactionConflictException => (StatusCodes.Status409Conflict, "Concurrent update: try again", null),
            DsqlTransactionTimeoutException => (StatusCodes.Status504GatewayTimeout, "The transaction took too long", null),
            _ => (0, "", null),
        };
        if (status == 0) return false;

        logger.LogWarning(exception, "Request {Path} failed with a DSQL error; answering {Status}.", context.Request.Path, status);
        context.Response.StatusCode = status;
        if (retryAfter is { } delay) context.Response.Headers.RetryAfter = ((int)Math.Ceiling(delay.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails = { Status = status, Title = title, Detail = exception.Message, Type = exception.GetType().Name },
        });
    }
}
