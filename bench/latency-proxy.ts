/**
 * A TCP proxy that adds network latency, for measuring round trips on one machine (bench:sql) and for
 * the test that a read-only statement costs one round trip (test/sql-protocol.test.ts). In Node rather
 * than tc/netem, which would need root and would slow every loopback connection of the machine.
 */
import { createServer, type Server, Socket } from 'node:net';
import { freePort } from '../test/pg/server.js';

/**
 * A TCP proxy that delays every chunk by `oneWayMs` in each direction, keeping order. `onChunk` hears of
 * each chunk as it arrives at the proxy: `'up'` from the client, `'down'` from the server.
 */
export async function latencyProxy(
  targetPort: number,
  oneWayMs: number,
  onChunk?: (direction: 'up' | 'down') => void,
): Promise<{ port: number; close(): void }> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  const delayed = (from: Socket, to: Socket, direction: 'up' | 'down') => {
    let last = 0;
    from.on('data', (chunk) => {
      onChunk?.(direction);
      const at = Math.max(Date.now() + oneWayMs, last);
      last = at;
      setTimeout(() => to.write(chunk), at - Date.now());
    });
    from.on('end', () => setTimeout(() => to.end(), Math.max(0, last - Date.now()) + 1));
    from.on('error', () => to.destroy());
  };
  const server: Server = createServer((client) => {
    const upstream = new Socket();
    // No Nagle delays in the proxy itself: only the latency it is told to add.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.add(client).add(upstream);
    upstream.connect(targetPort, '127.0.0.1');
    delayed(client, upstream, 'up');
    delayed(upstream, client, 'down');
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
