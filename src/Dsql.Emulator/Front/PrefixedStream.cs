namespace Dsql.Emulator.Front;

/// <summary>
/// A read/write stream that first replays bytes already taken from the inner stream. Direct TLS is recognised by
/// its first byte, which must then reach the TLS layer as part of the ClientHello.
/// </summary>
internal sealed class PrefixedStream(Stream inner, byte[] prefix) : WrappingStream(inner)
{
    private int _prefixOffset;

    public override int Read(Span<byte> buffer)
    {
        if (TakePrefix(buffer) is var taken and > 0) return taken;
        return Inner.Read(buffer);
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (TakePrefix(buffer.Span) is var taken and > 0) return ValueTask.FromResult(taken);
        return Inner.ReadAsync(buffer, cancellationToken);
    }

    private int TakePrefix(Span<byte> buffer)
    {
        int remaining = prefix.Length - _prefixOffset;
        if (remaining <= 0 || buffer.Length == 0) return 0;
        int count = Math.Min(remaining, buffer.Length);
        prefix.AsSpan(_prefixOffset, count).CopyTo(buffer);
        _prefixOffset += count;
        return count;
    }
}
