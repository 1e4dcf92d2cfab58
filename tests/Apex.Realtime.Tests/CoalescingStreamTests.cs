using System.Net.WebSockets;
using System.Text;
using Apex.Realtime.Gateway;

namespace Apex.Realtime.Tests;

/// <summary>
/// The send loop writes text frames itself (not through the WebSocket); .NET's own WebSocket client
/// reads them back here, so every header length form and the order with the WebSocket's own frames
/// are checked by a real frame parser.
/// </summary>
public sealed class CoalescingStreamTests
{
    [Fact(Timeout = 30_000)]
    public async Task Frames_of_every_length_form_read_back_in_order_with_the_sockets_own_frames()
    {
        // 125/126 and 65,535/65,536 are the edges of the 7-bit, 16-bit and 64-bit length forms;
        // 40,000 is larger than a batch and goes out on its own.
        int[] sizes = [0, 1, 125, 126, 127, 1_000, 65_535, 65_536, 40_000, 300];
        var wire = new MemoryStream();
        var stream = new CoalescingStream(wire);
        var server = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        var expected = new List<string>();
        foreach (var size in sizes)
        {
            var text = Message(expected.Count, size);
            expected.Add(text);
            await stream.AppendTextAsync(Encoding.UTF8.GetBytes(text), CancellationToken.None);
            if (size == 127)
            {
                // A batch boundary in the middle, then a message the WebSocket itself sends.
                await stream.SendBatchAsync(discard: false, CancellationToken.None);
                var own = Message(expected.Count, 50);
                expected.Add(own);
                await server.SendAsync(Encoding.UTF8.GetBytes(own), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
            }
        }

        await stream.SendBatchAsync(discard: false, CancellationToken.None);
        Assert.Equal(0, stream.PendingBytes);

        // A discarded batch never reaches the wire.
        var written = wire.Length;
        await stream.AppendTextAsync("dropped"u8.ToArray(), CancellationToken.None);
        await stream.SendBatchAsync(discard: true, CancellationToken.None);
        Assert.Equal(written, wire.Length);

        var client = WebSocket.CreateFromStream(new MemoryStream(wire.ToArray()), new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });
        var buffer = new byte[70_000];
        foreach (var text in expected)
        {
            var length = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                result = await client.ReceiveAsync(buffer.AsMemory(length), CancellationToken.None);
                length += result.Count;
            }
            while (!result.EndOfMessage);

            Assert.Equal(WebSocketMessageType.Text, result.MessageType);
            Assert.Equal(text, Encoding.UTF8.GetString(buffer, 0, length));
        }
    }

    private static string Message(int index, int size)
    {
        var prefix = $"{index}:";
        return size <= prefix.Length ? prefix[..size] : prefix + new string((char)('a' + (index % 26)), size - prefix.Length);
    }
}
