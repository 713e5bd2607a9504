using System.Buffers.Binary;

namespace Dsql.Emulator.Protocol;

/// <summary>
/// Reads PostgreSQL protocol v3 messages (one type byte, an int32 length that counts itself, a body) from a
/// stream through one reusable buffer. A message returned by <see cref="ReadAsync"/> stays valid until the next
/// call. Before it blocks on the stream it runs <c>beforeBlocking</c>, which lets a proxy flush what it has
/// gathered so that several small messages travel in one write.
/// </summary>
internal sealed class PgMessageReader
{
    private readonly Stream _stream;
    private readonly int _maxMessageLength;
    private byte[] _buffer;
    private int _start;
    private int _end;

    public PgMessageReader(Stream stream, int maxMessageLength, int initialBufferSize = 16 * 1024)
    {
        _stream = stream;
        _maxMessageLength = maxMessageLength;
        _buffer = new byte[initialBufferSize];
    }

    /// <summary>Whether a whole message is already buffered, so the next read will not block.</summary>
    public bool HasBufferedMessage
    {
        get
        {
            int available = _end - _start;
            if (available < 5) return false;
            int length = BinaryPrimitives.ReadInt32BigEndian(_buffer.AsSpan(_start + 1));
            return length >= 4 && available >= length + 1;
        }
    }

    /// <summary>
    /// Reads the next message; returns <c>default</c> (type 0) when the stream ended cleanly between messages.
    /// <paramref name="maxLength"/> lowers the length limit for this message (checked before its body is read).
    /// </summary>
    public async ValueTask<PgMessage> ReadAsync(Func<ValueTask>? beforeBlocking, CancellationToken cancellationToken, int maxLength = int.MaxValue)
    {
        if (!await EnsureAsync(5, beforeBlocking, cancellationToken, allowEof: true).ConfigureAwait(false))
            return default;
        byte type = _buffer[_start];
        int length = BinaryPrimitives.ReadInt32BigEndian(_buffer.AsSpan(_start + 1));
        if (length < 4 || length > Math.Min(maxLength, _maxMessageLength))
            throw new PgProtocolException($"invalid message length {length} for message type '{(char)type}'");
        await EnsureAsync(length + 1, beforeBlocking, cancellationToken, allowEof: false).ConfigureAwait(false);
        var message = new PgMessage(type, new ReadOnlyMemory<byte>(_buffer, _start, length + 1));
        _start += length + 1;
        return message;
    }

    /// <summary>Reads exactly <paramref name="count"/> raw bytes (used for untyped startup packets).</summary>
    public async ValueTask<ReadOnlyMemory<byte>> ReadRawAsync(int count, CancellationToken cancellationToken)
    {
        await EnsureAsync(count, null, cancellationToken, allowEof: false).ConfigureAwait(false);
        var result = new ReadOnlyMemory<byte>(_buffer, _start, count);
        _start += count;
        return result;
    }

    private async ValueTask<bool> EnsureAsync(int count, Func<ValueTask>? beforeBlocking, CancellationToken cancellationToken, bool allowEof)
    {
        if (_end - _start >= count) return true;
        if (_buffer.Length - _start < count)
        {
            // Compact, or grow when the message is larger than the buffer.
            byte[] target = count > _buffer.Length ? new byte[Math.Max(count, _buffer.Length * 2)] : _buffer;
            Buffer.BlockCopy(_buffer, _start, target, 0, _end - _start);
            _end -= _start;
            _start = 0;
            _buffer = target;
        }
        if (beforeBlocking is not null) await beforeBlocking().ConfigureAwait(false);
        while (_end - _start < count)
        {
            int read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                if (allowEof && _end == _start) return false;
                throw new EndOfStreamException("the peer closed the connection in the middle of a message");
            }
            _end += read;
        }
        return true;
    }
}

/// <summary>A whole protocol message: <see cref="Raw"/> holds the type byte, the length and the body.</summary>
internal readonly record struct PgMessage(byte Type, ReadOnlyMemory<byte> Raw)
{
    public bool IsEnd => Type == 0;
    public ReadOnlySpan<byte> Body => Raw.Span[5..];
}

/// <summary>A peer broke the PostgreSQL protocol.</summary>
internal sealed class PgProtocolException(string message) : Exception(message);
