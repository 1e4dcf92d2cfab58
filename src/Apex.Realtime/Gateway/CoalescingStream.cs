using System.Buffers;
using System.Buffers.Binary;

namespace Apex.Realtime.Gateway;

/// <summary>
/// The byte stream under a connection's WebSocket. The send loop appends each outgoing text message
/// as a complete RFC 6455 frame to one pooled buffer of its own, without going through the
/// WebSocket, and sends what it gathered with one transport write (and the transport one flush) per
/// batch. A burst of events then costs the socket one write instead of one per frame, and a frame
/// costs one copy and no lock; an idle connection holds no buffer.
/// </summary>
/// <remarks>
/// The WebSocket still writes its own frames (the answer to a ping, the close frame) through
/// <see cref="WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/>, always one whole frame per
/// call. Those writes and the batches are ordered by one write lock, so frames never interleave.
/// The gateway never fragments a message and never negotiates an extension (no compression), so a
/// server text frame is the two-to-ten-byte header (FIN, opcode, unmasked length) and the payload.
/// </remarks>
internal sealed class CoalescingStream(Stream inner) : Stream
{
    /// <summary>A batch goes out once it holds this much, so a large replay is sent in bounded pieces.</summary>
    internal const int MaxBatchBytes = 32 * 1024;

    /// <summary>The largest header of a server frame: 2 bytes, then a 64-bit length.</summary>
    private const int MaxHeaderBytes = 10;

    private readonly SemaphoreSlim _write = new(1, 1);

    // Only the send loop touches the batch between its writes.
    private byte[]? _batch;
    private int _length;
    private volatile bool _disposed;

    public override bool CanRead => inner.CanRead;

    public override bool CanSeek => false;

    public override bool CanWrite => inner.CanWrite;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>Bytes gathered and not yet sent.</summary>
    internal int PendingBytes => _length;

    /// <summary>
    /// Adds one complete text message to the batch. Only the send loop calls this, one call at a
    /// time; a full batch is sent first, and a message larger than a batch is sent on its own.
    /// </summary>
    public ValueTask AppendTextAsync(ReadOnlyMemory<byte> payload, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var size = HeaderLength(payload.Length) + payload.Length;
        if (_length + size <= MaxBatchBytes)
        {
            var batch = _batch ??= ArrayPool<byte>.Shared.Rent(MaxBatchBytes);
            _length += WriteFrame(batch.AsSpan(_length), payload.Span);
            return ValueTask.CompletedTask;
        }

        return AppendSlowAsync(payload, size, ct);
    }

    /// <summary>
    /// Sends what was gathered in one write (or drops it when <paramref name="discard"/>: the client
    /// is leaving and wants nothing more) and lets the batch buffer go back to the pool.
    /// </summary>
    public async ValueTask SendBatchAsync(bool discard, CancellationToken ct)
    {
        if (discard)
        {
            _length = 0;
        }

        if (_length > 0)
        {
            await _write.WaitAsync(ct);
            try
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                var length = _length;
                _length = 0;
                await inner.WriteAsync(_batch.AsMemory(0, length), ct);
            }
            finally
            {
                _write.Release();
            }
        }

        if (_batch is { } batch)
        {
            _batch = null;
            ArrayPool<byte>.Shared.Return(batch);
        }
    }

    /// <summary>A write of the WebSocket's own (one whole frame), ordered with the batches by the write lock.</summary>
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _write.WaitAsync(cancellationToken);
        try
        {
            await inner.WriteAsync(buffer, cancellationToken);
        }
        finally
        {
            _write.Release();
        }
    }

    /// <summary>The header of an unmasked final text frame of <paramref name="payloadLength"/> bytes (RFC 6455 section 5.2).</summary>
    internal static int HeaderLength(int payloadLength) => payloadLength < 126 ? 2 : payloadLength <= ushort.MaxValue ? 4 : MaxHeaderBytes;

    /// <summary>Writes the frame of <paramref name="payload"/> at the start of <paramref name="target"/>; returns its length.</summary>
    internal static int WriteFrame(Span<byte> target, ReadOnlySpan<byte> payload)
    {
        target[0] = 0x81; // FIN, opcode 1 (text)
        int header;
        if (payload.Length < 126)
        {
            target[1] = (byte)payload.Length;
            header = 2;
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            target[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(target[2..], (ushort)payload.Length);
            header = 4;
        }
        else
        {
            target[1] = 127;
            BinaryPrimitives.WriteUInt64BigEndian(target[2..], (ulong)payload.Length);
            header = MaxHeaderBytes;
        }

        payload.CopyTo(target[header..]);
        return header + payload.Length;
    }

    private async ValueTask AppendSlowAsync(ReadOnlyMemory<byte> payload, int size, CancellationToken ct)
    {
        // Send what is gathered first, so the order on the wire is the order of the calls.
        await SendBatchAsync(discard: false, ct);
        if (size <= MaxBatchBytes)
        {
            var batch = _batch = ArrayPool<byte>.Shared.Rent(MaxBatchBytes);
            _length = WriteFrame(batch, payload.Span);
            return;
        }

        // Larger than a batch: a buffer of its own for this one write.
        var frame = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var length = WriteFrame(frame, payload.Span);
            await _write.WaitAsync(ct);
            try
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                await inner.WriteAsync(frame.AsMemory(0, length), ct);
            }
            finally
            {
                _write.Release();
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) =>
        WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override void Flush() => inner.Flush();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _disposed = true;
            // The pooled batch is not returned here: a write may still hold it; the GC takes it. The
            // write lock is not disposed either: a write waiting on it when the socket is aborted
            // must still wake (and fail on the disposed transport) rather than wait forever.
            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        _disposed = true;
        await inner.DisposeAsync();
        await base.DisposeAsync();
    }
}
