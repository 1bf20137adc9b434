import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { NativeUdpSocket, sendUdpFrom, type UdpDatagram } from '../src';

/*
 * The addon's UDP sockets on the loopback: datagrams arrive on Node's event loop with their source,
 * replies go back, and an answer can be sent from an address the host does not have (what the DNS
 * proxy does to answer a pod as the server it asked). Transparent sockets need root.
 */
const root = process.getuid?.() === 0;
if (!root) console.warn('native UDP socket tests skipped: IP_TRANSPARENT and SO_MARK need root');

function nextMessage(socket: DgramSocket): Promise<{ payload: string; from: string }> {
  return new Promise((resolve) => socket.once('message', (msg, rinfo) => resolve({ payload: msg.toString(), from: `${rinfo.address}:${rinfo.port}` })));
}

(root ? describe : describe.skip)('NativeUdpSocket (needs root)', () => {
  let client: DgramSocket;
  beforeEach(async () => {
    client = createSocket('udp4');
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
  });
  afterEach(() => client.close());

  it('receives datagrams with their source and answers from the bound port; closing stops the reads', async () => {
    const received: UdpDatagram[] = [];
    const socket = await NativeUdpSocket.open({ address: '127.0.0.1', port: 0, transparent: true, mark: 0x0b00 }, (d) => {
      received.push(d);
      socket.send(Buffer.from(`echo ${d.payload.toString()}`), d.source);
    });
    const port = socket.port;
    expect(port).toBeGreaterThan(0);
    const answer = nextMessage(client);
    client.send('hello', port, '127.0.0.1');
    expect(await answer).toEqual({ payload: 'echo hello', from: `127.0.0.1:${port}` });
    expect(received).toHaveLength(1);
    expect(received[0]!.source).toEqual({ address: '127.0.0.1', port: client.address().port });
    // Sent straight to the socket's own address, the original destination is that address.
    expect(received[0]!.originalDestination).toEqual({ address: '127.0.0.1', port });
    socket.close();
    socket.close();
    expect(() => socket.send(Buffer.from('x'), { address: '127.0.0.1', port: client.address().port })).toThrow('the UDP socket is closed');
  });

  it('an error thrown by the message handler goes to onError and the socket keeps reading', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const socket = await NativeUdpSocket.open(
      { address: '127.0.0.1', port: 0 },
      (d) => {
        calls++;
        if (calls === 1) throw new Error('handler failed');
        socket.send(d.payload, d.source);
      },
      (err) => errors.push(err),
    );
    const answer = nextMessage(client);
    client.send('first', socket.port, '127.0.0.1');
    client.send('second', socket.port, '127.0.0.1');
    expect((await answer).payload).toBe('second');
    expect(errors.map((e) => (e as Error).message)).toEqual(['handler failed']);
    socket.close();
  });

  it('sendUdpFrom answers from an address the host does not own', async () => {
    const answer = nextMessage(client);
    await sendUdpFrom(Buffer.from('from afar'), { address: '192.0.2.53', port: 53 }, { address: '127.0.0.1', port: client.address().port });
    expect(await answer).toEqual({ payload: 'from afar', from: '192.0.2.53:53' });
  });

  it('bad arguments are clear errors', async () => {
    await expect(NativeUdpSocket.open({ address: 'not-an-ip', port: 0 }, () => undefined)).rejects.toThrow('not an IPv4 address: not-an-ip');
    await expect(NativeUdpSocket.open({ address: '127.0.0.1', port: 70000 }, () => undefined)).rejects.toThrow('port must be an integer in 0..65535');
  });
});
