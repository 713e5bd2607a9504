namespace Dsql.Emulator;

/// <summary>Where <see cref="EmulatorFaults.StallHandshakes"/> makes a new connection's handshake stop answering.</summary>
public enum HandshakeStall
{
    /// <summary>No stall: handshakes run normally.</summary>
    None,

    /// <summary>The TCP connection is accepted and nothing more is read or sent (a black-holed tunnel or proxy).</summary>
    AfterAccept,

    /// <summary>
    /// The TLS handshake starts and stops half-way: the client's hello is read and only part of the server's first
    /// flight is sent.
    /// </summary>
    DuringTls,

    /// <summary>TLS and the startup packet complete, the password (the IAM token) is asked for and read, and never answered.</summary>
    AfterPassword,

    /// <summary>
    /// Authentication succeeds (AuthenticationOk and the parameter statuses are sent) and the server stops before the
    /// session is ready (no BackendKeyData, no ReadyForQuery).
    /// </summary>
    MidStartup,
}
