using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Apex.Contracts;

namespace Apex.Realtime.Broker;

/// <summary>
/// Writes protocol frames as UTF-8 JSON with the names of docs/spec/realtime-protocol.md section 2. Written by
/// hand rather than through the reflection serializer because every published event passes here
/// once and its bytes are then shared with every connection.
/// </summary>
public static class EnvelopeSerializer
{
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = ApexJson.Options.Encoder, SkipValidation = true };

    public static byte[] Serialize(EventEnvelope envelope) => Serialize(envelope, envelope?.Seq);

    /// <summary>
    /// The frame of <paramref name="envelope"/> numbered <paramref name="seq"/> (none when null), so
    /// that a broker numbers an event without copying the envelope first.
    /// </summary>
    public static byte[] Serialize(EventEnvelope envelope, long? seq)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        return Write(envelope.Type, envelope.Timestamp, (envelope, seq), static (w, state) =>
        {
            var e = state.envelope;
            if (state.seq is { } seq)
            {
                w.WriteNumber("seq"u8, seq);
            }

            if (e.RunId is not null)
            {
                w.WriteString("run_id"u8, e.RunId);
            }

            if (e.ThreadId is not null)
            {
                w.WriteString("thread_id"u8, e.ThreadId);
            }

            if (e.AgentName is not null)
            {
                w.WriteString("agent_name"u8, e.AgentName);
            }
        }, static (w, state) =>
        {
            if (state.envelope.Payload is { ValueKind: not JsonValueKind.Undefined } payload)
            {
                // The payload was parsed (or built) as JSON already: its bytes are copied as they
                // are instead of being re-read and re-escaped token by token for every event.
                w.WritePropertyName("payload"u8);
                w.WriteRawValue(JsonMarshal.GetRawUtf8Value(payload), skipInputValidation: true);
            }
        });
    }

    /// <summary>A frame that only one connection receives (no <c>seq</c>), with a payload object.</summary>
    public static byte[] SerializeFrame<TState>(string type, TState state, Action<Utf8JsonWriter, TState> writePayload)
    {
        return Write(type, DateTimeOffset.UtcNow, (state, writePayload), static (_, _) => { }, static (w, s) =>
        {
            w.WritePropertyName("payload"u8);
            w.WriteStartObject();
            s.writePayload(w, s.state);
            w.WriteEndObject();
        });
    }

    /// <summary>ISO 8601 UTC with milliseconds, as in the protocol's examples.</summary>
    public static void WriteTimestamp(Utf8JsonWriter writer, ReadOnlySpan<byte> name, DateTimeOffset value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        // "O" of a UTC DateTime is yyyy-MM-ddTHH:mm:ss.fffffffZ and has a fast path; keep milliseconds.
        Span<byte> utf8 = stackalloc byte[40];
        value.UtcDateTime.TryFormat(utf8, out _, "O", CultureInfo.InvariantCulture);
        utf8[23] = (byte)'Z';
        writer.WriteString(name, utf8[..24]);
    }

    private static byte[] Write<TState>(string type, DateTimeOffset timestamp, TState state, Action<Utf8JsonWriter, TState> writeHeader, Action<Utf8JsonWriter, TState> writeBody)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        var writer = t_writer ??= new Utf8JsonWriter(buffer, WriterOptions);
        buffer.ResetWrittenCount();
        writer.Reset(buffer);
        try
        {
            writer.WriteStartObject();
            writer.WriteString("type"u8, type);
            writeHeader(writer, state);
            WriteTimestamp(writer, "timestamp"u8, timestamp);
            writeBody(writer, state);
            writer.WriteEndObject();
            writer.Flush();
            return buffer.WrittenSpan.ToArray();
        }
        finally
        {
            // A rare huge frame must not pin a huge buffer to the thread forever.
            if (buffer.Capacity > 256 * 1024)
            {
                t_buffer = null;
                t_writer = null;
            }
        }
    }
}
