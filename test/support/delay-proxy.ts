// A loopback TCP proxy in front of a real server (OpenBao) that can hold back the answers to chosen HTTP
// requests: the request reaches the server at once (it is answered from the data as it is then), but the
// answer reaches the client only on release(). Lets a test make one reader slow at a precise point.
import net from 'node:net';

export interface DelayProxy {
  /** `http://127.0.0.1:<port>`, to use as VAULT_ADDR. */
  address: string;
  /** From now on, answers to requests whose request line matches `pattern` are held back. */
  hold(pattern: RegExp): void;
  /** Resolves once the server has answered a held request (the answer now waits in the proxy). */
  held(): Promise<string>;
  /** Delivers every held answer, in order, and stops holding. */
  release(): void;
  close(): Promise<void>;
}

type Queued = { kind: 'data'; chunk: Buffer } | { kind: 'end' };

export async function startDelayProxy(upstream: string): Promise<DelayProxy> {
  const target = new URL(upstream);
  let pattern: RegExp | null = null;
  /** Connections whose answers are being held back, with what they hold. */
  const holding = new Set<{ client: net.Socket; items: Queued[] }>();
  const heldLines: string[] = [];
  const waiters: Array<(line: string) => void> = [];
  const sockets = new Set<net.Socket>();

  const server = net.createServer((client) => {
    const server = net.connect(Number(target.port), target.hostname);
    sockets.add(client).add(server);
    let requestLine = '';
    const connection = { client, items: [] as Queued[] };
    client.on('data', (chunk: Buffer) => {
      // HTTP/1.1 without pipelining: a chunk starting with a method is the start of the next request.
      const text = chunk.toString('latin1');
      if (/^[A-Z]+ \S+ HTTP\/1\.[01]\r\n/.test(text)) requestLine = text.slice(0, text.indexOf('\r\n'));
      server.write(chunk);
    });
    server.on('data', (chunk: Buffer) => {
      if (!holding.has(connection) && pattern !== null && pattern.test(requestLine)) {
        holding.add(connection);
        heldLines.push(requestLine);
        for (const waiter of waiters.splice(0)) waiter(requestLine);
      }
      if (holding.has(connection)) connection.items.push({ kind: 'data', chunk });
      else client.write(chunk);
    });
    server.on('end', () => (holding.has(connection) ? connection.items.push({ kind: 'end' }) : client.end()));
    client.on('end', () => server.end());
    for (const socket of [client, server]) {
      socket.on('error', () => {
        client.destroy();
        server.destroy();
      });
      socket.on('close', () => sockets.delete(socket));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;

  return {
    address: `http://127.0.0.1:${port}`,
    hold(p) {
      pattern = p;
    },
    held() {
      const first = heldLines[0];
      return first !== undefined ? Promise.resolve(first) : new Promise((resolve) => waiters.push(resolve));
    },
    release() {
      pattern = null;
      for (const connection of holding) {
        for (const item of connection.items.splice(0)) {
          if (item.kind === 'data') connection.client.write(item.chunk);
          else connection.client.end();
        }
      }
      holding.clear();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
