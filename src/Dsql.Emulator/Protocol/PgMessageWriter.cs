using System.Buffers.Binary;
using System.Text;

namespace Dsql.Emulator.Protocol;

/// <summary>
/// Gathers outgoing protocol messages in one growing buffer and writes them with a single call on
/// <see cref="FlushAsync"/>. Not thread-safe: callers that share a writer serialize through <see cref="Lock"/>.
/// </summary>
internal sealed class PgMessageWriter
{
    private readonly Stream _stream;
    private byte[] _buffer = new byte[16 * 1024];
    private int _length;
    private int _messageStart = -1;

    public PgMessageWriter(Stream stream) => _stream = stream;

    /// <summary>Serializes writers that share this stream (a proxy pump and the session's supervisor).</summary>
    public SemaphoreSlim Lock { get; } = new(1, 1);

    public int BufferedLength => _length;

    public void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    /// <summary>Starts a typed message; <see cref="EndMessage"/> fills in its length.</summary>
    public void BeginMessage(byte type)
    {
        Ensure(5);
        _buffer[_length] = type;
        _messageStart = _length + 1;
        _length += 5;
    }

    /// <summary>Starts an untyped message (startup packet, SSLRequest, CancelRequest).</summary>
    public void BeginUntypedMessage()
    {
        Ensure(4);
        _messageStart = _length;
        _length += 4;
    }

    public void EndMessage()
    {
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_messageStart), _length - _messageStart);
        _messageStart = -1;
    }

    public void WriteByte(byte value)
    {
        Ensure(1);
        _buffer[_length++] = value;
    }

    public void WriteInt16(short value)
    {
        Ensure(2);
        BinaryPrimitives.WriteInt16BigEndian(_buffer.AsSpan(_length), value);
        _length += 2;
    }

    public void WriteInt32(int value)
    {
        Ensure(4);
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_length), value);
        _length += 4;
    }

    /// <summary>Writes a null-terminated UTF-8 string.</summary>
    public void WriteCString(string value)
    {
        int max = Encoding.UTF8.GetMaxByteCount(value.Length) + 1;
        Ensure(max);
        int written = Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_length));
        _length += written;
        _buffer[_length++] = 0;
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (_length == 0) return;
        int length = _length;
        _length = 0;
        await _stream.WriteAsync(_buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private void Ensure(int extra)
    {
        if (_length + extra <= _buffer.Length) return;
        Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + extra));
    }
}
