using System.Net;
using System.Net.Sockets;

namespace Apex.Bench.Gateway;

/// <summary>
/// An HTTP handler whose connections leave from one loopback source address, so the client
/// processes of a run spread over 127.0.0.x and each has its own range of ephemeral ports.
/// </summary>
internal static class BoundHandler
{
    public static SocketsHttpHandler From(IPAddress local) => new()
    {
        ConnectCallback = async (context, ct) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(local, 0));
                await socket.ConnectAsync(context.DnsEndPoint, ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
        PooledConnectionLifetime = TimeSpan.Zero,
    };
}
