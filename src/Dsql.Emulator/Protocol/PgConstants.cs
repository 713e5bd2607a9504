namespace Dsql.Emulator.Protocol;

/// <summary>Numbers and message types of PostgreSQL protocol v3 used by the emulator.</summary>
internal static class PgConstants
{
    public const int ProtocolVersion3 = 3 << 16;
    public const int SslRequestCode = 80877103;
    public const int GssEncRequestCode = 80877104;
    public const int CancelRequestCode = 80877102;
    /// <summary>PostgreSQL's own cap on a startup packet (MAX_STARTUP_PACKET_LENGTH).</summary>
    public const int MaxStartupPacketLength = 10_000;
    /// <summary>A password message carries a token of a few kilobytes at most; more is an attack or a bug.</summary>
    public const int MaxPasswordMessageLength = 64 * 1024;
    /// <summary>PostgreSQL refuses messages above 1 GiB.</summary>
    public const int MaxMessageLength = 1 << 30;
    public const byte TlsHandshakeRecord = 0x16;

    // Frontend messages.
    public const byte Query = (byte)'Q';
    public const byte Parse = (byte)'P';
    public const byte Bind = (byte)'B';
    public const byte Execute = (byte)'E';
    public const byte Sync = (byte)'S';
    public const byte FunctionCall = (byte)'F';
    public const byte Terminate = (byte)'X';
    public const byte Password = (byte)'p';
    public const byte Flush = (byte)'H';

    // Backend messages.
    public const byte Authentication = (byte)'R';
    public const byte ParameterStatus = (byte)'S';
    public const byte BackendKeyData = (byte)'K';
    public const byte ReadyForQuery = (byte)'Z';
    public const byte ErrorResponse = (byte)'E';
    public const byte NoticeResponse = (byte)'N';
    public const byte CommandComplete = (byte)'C';
    public const byte DataRow = (byte)'D';
    public const byte NegotiateProtocolVersion = (byte)'v';

    // SQLSTATEs the emulator answers with.
    public const string InvalidAuthorization = "28000";
    public const string ProtocolViolation = "08P01";
    public const string ConnectionFailure = "08006";
    public const string TooManyConnections = "53300";
    public const string RateExceeded = "53400";
    public const string FeatureNotSupported = "0A000";
    public const string ProgramLimitExceeded = "54000";
    public const string SerializationFailure = "40001";
    public const string InvalidCatalogName = "3D000";
    public const string AdminShutdown = "57P01";
    public const string QueryCanceled = "57014";
    public const string InFailedTransaction = "25P02";
    public const string LockNotAvailable = "55P03";
    public const string DeadlockDetected = "40P01";
    public const string InternalError = "XX000";
}
