namespace Dsql.Emulator.Front;

/// <summary>
/// Fault injection for a TLS handshake that stops half-way: reads pass through; the first write sends only the first
/// half of its bytes and then waits for the stall to be lifted (or the handshake to time out), and the connection is
/// then closed. The client has the server's hello in part and waits for the rest.
/// </summary>
internal sealed class StallingStream(Stream inner, Task released) : WrappingStream(inner)
{
    public override void Write(ReadOnlySpan<byte> buffer) => WriteAsync(buffer.ToArray()).AsTask().GetAwaiter().GetResult();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty) return;
        await Inner.WriteAsync(buffer[..Math.Max(1, buffer.Length / 2)], cancellationToken).ConfigureAwait(false);
        await Inner.FlushAsync(cancellationToken).ConfigureAwait(false);
        await released.WaitAsync(cancellationToken).ConfigureAwait(false);
        throw new IOException("The emulator's handshake stall (fault injection) ended; the connection is closed.");
    }
}
