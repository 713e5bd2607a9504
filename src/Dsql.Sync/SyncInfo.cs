namespace Dsql.Sync;

/// <summary>Facts shared by the parts of Dsql.Sync.</summary>
internal static class SyncInfo
{
    /// <summary>The name of the meter and activity source of Dsql.Sync.</summary>
    public const string TelemetryName = "Dsql.Sync";
}
