using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Dsql.Emulator.Front;

/// <summary>
/// One endpoint's loopback listeners (127.0.0.1 and, when the machine has IPv6 loopback, ::1 on the same port), its
/// connection-rate bucket and its counts of open sessions and pending handshakes.
/// </summary>
internal sealed class EndpointListener
{
    private const int Backlog = 4096;
    private const int PortAttempts = 5;
    private readonly DsqlEmulator _emulator;
    private readonly List<Socket> _sockets = new(2);
    private readonly List<Task> _acceptLoops = new(2);

    /// <summary>Open sessions on this endpoint (updated with <see cref="Interlocked"/>).</summary>
    public int OpenSessions;

    /// <summary>Connections accepted and not yet authenticated (updated with <see cref="Interlocked"/>).</summary>
    public int PendingHandshakes;

    public EndpointListener(DsqlEmulator emulator, string host, string region, int port)
    {
        _emulator = emulator;
        Host = host;
        Region = region;
        RateLimiter = new ConnectionRateLimiter(emulator.Options.ConnectionRatePerSecond, emulator.Options.ConnectionBurst, emulator.Clock);
        Faults = new EndpointFaults(emulator, this);
        for (int attempt = 1; ; attempt++)
        {
            var v4 = Listen(host, IPAddress.Loopback, port);
            int chosen = ((IPEndPoint)v4.LocalEndPoint!).Port;
            if (!Socket.OSSupportsIPv6)
            {
                _sockets.Add(v4);
                Port = chosen;
                break;
            }
            try
            {
                var v6 = Listen(host, IPAddress.IPv6Loopback, chosen);
                _sockets.Add(v4);
                _sockets.Add(v6);
                Port = chosen;
                break;
            }
            catch (InvalidOperationException ex) when (ex.InnerException is SocketException { SocketErrorCode: SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported or SocketError.ProtocolNotSupported })
            {
                // IPv6 exists but this machine has no ::1 (e.g. disabled on loopback): IPv4 only.
                _sockets.Add(v4);
                Port = chosen;
                break;
            }
            catch (InvalidOperationException) when (port == 0 && attempt < PortAttempts)
            {
                // The free IPv4 port is taken on ::1 by someone else: pick another port for both.
                v4.Dispose();
            }
            catch
            {
                v4.Dispose();
                throw;
            }
        }
    }

    public string Host { get; }
    public string Region { get; }
    public int Port { get; }
    public ConnectionRateLimiter RateLimiter { get; }

    /// <summary>This endpoint's own faults (an outage of this endpoint alone).</summary>
    public EndpointFaults Faults { get; }

    /// <summary>The loopback addresses listened on, IPv4 first.</summary>
    public IReadOnlyList<string> Addresses => _sockets.Select(s => ((IPEndPoint)s.LocalEndPoint!).Address.ToString()).ToList();

    private static Socket Listen(string host, IPAddress address, int port)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (address.AddressFamily == AddressFamily.InterNetworkV6) socket.DualMode = false;
            socket.Bind(new IPEndPoint(address, port));
            socket.Listen(Backlog);
            return socket;
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            string where = address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]:{port}" : $"{address}:{port}";
            throw new InvalidOperationException($"Endpoint '{host}' cannot listen on {where}: {ex.Message}", ex);
        }
    }

    public void Start(CancellationToken stopping)
    {
        foreach (var socket in _sockets) _acceptLoops.Add(AcceptLoopAsync(socket, stopping));
    }

    private async Task AcceptLoopAsync(Socket socket, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                await _emulator.Faults.AcceptGate.WaitAsync(stopping).ConfigureAwait(false);
                client = await socket.AcceptAsync(stopping).ConfigureAwait(false);
                // Accepting may have been paused while this accept was pending: hold the client unserved until resumed.
                var gate = _emulator.Faults.AcceptGate;
                if (!gate.IsCompleted)
                {
                    try
                    {
                        await gate.WaitAsync(stopping).ConfigureAwait(false);
                    }
                    catch
                    {
                        client.Dispose();
                        throw;
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                Log.AcceptFailed(_emulator.Logger, Host, ex.Message);
                continue;
            }
            if (Faults.ResetAtAccept())
            {
                Log.ConnectionResetByOutage(_emulator.Logger, Host);
                Reset(client);
                continue;
            }
            client.NoDelay = true;
            _emulator.StartSession(this, client);
        }
    }

    /// <summary>Closes a connection with a TCP reset (linger zero): the client sees its connection refused by the network, no PostgreSQL message.</summary>
    private static void Reset(Socket client)
    {
        try
        {
            client.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
            // The client is gone already.
        }
        client.Dispose();
    }

    public async Task StopAsync()
    {
        foreach (var socket in _sockets) socket.Dispose();
        await Task.WhenAll(_acceptLoops).ConfigureAwait(false);
    }
}
