using System.Text.Json;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Dsql.Samples.AspNetCore;

/// <summary>Writes a health report as JSON: the overall status, and per check its status, description and data (e.g. <c>reason</c>).</summary>
internal static class HealthResponse
{
    public static Task WriteAsync(HttpContext context, HealthReport report)
    {
        var body = new
        {
            status = report.Status.ToString(),
            durationMs = Math.Round(report.TotalDuration.TotalMilliseconds, 1),
            checks = report.Entries.ToDictionary(entry => entry.Key, entry => new
            {
                status = entry.Value.Status.ToString(),
                description = entry.Value.Description,
                data = entry.Value.Data.ToDictionary(pair => pair.Key, pair => pair.Value?.ToString()),
            }),
        };
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, JsonSerializerOptions.Web));
    }
}
