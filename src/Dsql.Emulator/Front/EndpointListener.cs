using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Dsql.Emulator.Front;

/// <summary>One endpoint's loopback listener, its connection-rate bucket and its counts of open sessions and pending handshakes.</summary>
internal sealed class EndpointListener
{
    private readonly DsqlEmulator _emulator;
    private readonly Socket _socket;
    private Task? _acceptLoop;

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
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            _socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            _socket.Listen(4096);
        }
        catch (SocketException ex)
        {
            _socket.Dispose();
            throw new InvalidOperationException($"Endpoint '{host}' cannot listen on 127.0.0.1:{port}: {ex.Message}", ex);
        }
        Port = ((IPEndPoint)_socket.LocalEndPoint!).Port;
    }

    public string Host { get; }
    public string Region { get; }
    public int Port { get; }
    public ConnectionRateLimiter RateLimiter { get; }

    public void Start(CancellationToken stopping) => _acceptLoop = AcceptLoopAsync(stopping);

    private async Task AcceptLoopAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                await _emulator.Faults.AcceptGate.WaitAsync(stopping).ConfigureAwait(false);
                client = await _socket.AcceptAsync(stopping).ConfigureAwait(false);
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
            client.NoDelay = true;
            _emulator.StartSession(this, client);
        }
    }

    public async Task StopAsync()
    {
        _socket.Dispose();
        if (_acceptLoop is not null) await _acceptLoop.ConfigureAwait(false);
    }
}
