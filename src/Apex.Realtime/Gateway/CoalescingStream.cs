using System.Buffers;

namespace Apex.Realtime.Gateway;

/// <summary>
/// The byte stream under a connection's WebSocket. While the send loop drains what the connection
/// has waiting, it corks the stream: every frame the WebSocket writes is appended to one pooled
/// buffer, and uncorking writes the whole batch to the transport at once. A burst of events then
/// costs the socket one write (and the transport one flush) instead of one per frame; an idle
/// connection holds no buffer.
/// </summary>
/// <remarks>
/// Writes from outside the send loop (the WebSocket's own answers to a ping or a close) are ordered
/// with the batch by one write lock, so bytes never interleave and never overtake a batch.
/// </remarks>
internal sealed class CoalescingStream(Stream inner) : Stream
{
    /// <summary>A batch goes out once it holds this much, so a large replay is sent in bounded pieces.</summary>
    internal const int MaxBatchBytes = 32 * 1024;

    private readonly SemaphoreSlim _write = new(1, 1);
    private volatile bool _corked;
    private byte[]? _batch;
    private int _length;

    public override bool CanRead => inner.CanRead;

    public override bool CanSeek => false;

    public override bool CanWrite => inner.CanWrite;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>Writes from now on are gathered until <see cref="UncorkAsync"/>.</summary>
    public void Cork() => _corked = true;

    /// <summary>
    /// Sends what was gathered in one write (or drops it when <paramref name="discard"/>: the client
    /// is leaving and wants nothing more) and lets later writes through.
    /// </summary>
    public async ValueTask UncorkAsync(bool discard, CancellationToken ct)
    {
        await _write.WaitAsync(ct);
        try
        {
            _corked = false;
            if (discard)
            {
                _length = 0;
            }

            await FlushBatchAsync(ct);
            if (_batch is { } batch)
            {
                _batch = null;
                ArrayPool<byte>.Shared.Return(batch);
            }
        }
        finally
        {
            _write.Release();
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _write.WaitAsync(cancellationToken);
        try
        {
            if (!_corked)
            {
                await FlushBatchAsync(cancellationToken);
                await inner.WriteAsync(buffer, cancellationToken);
                return;
            }

            if (_length + buffer.Length > MaxBatchBytes)
            {
                await FlushBatchAsync(cancellationToken);
            }

            if (buffer.Length > MaxBatchBytes)
            {
                await inner.WriteAsync(buffer, cancellationToken);
                return;
            }

            var batch = _batch ??= ArrayPool<byte>.Shared.Rent(MaxBatchBytes);
            buffer.Span.CopyTo(batch.AsSpan(_length));
            _length += buffer.Length;
        }
        finally
        {
            _write.Release();
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

    public override Task FlushAsync(CancellationToken cancellationToken) =>
        _corked ? Task.CompletedTask : inner.FlushAsync(cancellationToken);

    public override void Flush()
    {
        if (!_corked)
        {
            inner.Flush();
        }
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            // The pooled batch is not returned here: a write may still hold it; the GC takes it. The
            // write lock is not disposed either: a write waiting on it when the socket is aborted
            // must still wake (and fail on the disposed transport) rather than wait forever.
            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync();
        await base.DisposeAsync();
    }

    private async ValueTask FlushBatchAsync(CancellationToken ct)
    {
        if (_length > 0)
        {
            var length = _length;
            _length = 0;
            await inner.WriteAsync(_batch.AsMemory(0, length), ct);
        }
    }
}
