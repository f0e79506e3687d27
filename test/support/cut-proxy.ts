// A loopback TCP proxy in front of one OpenBao node that can stop chosen HTTP requests at a precise point, so
// that a test can kill the node at that moment: `hold('answer')` lets the request reach the node but keeps its
// answer back; `hold('request')` keeps the request itself back (the node never sees it). `cut()` then drops the
// held connections (the client sees its connection reset with no answer); `release()` delivers what was held.
import net from 'node:net';

export interface CutProxy {
  /** `http://127.0.0.1:<port>` */
  address: string;
  /** From now on, requests whose request line matches `pattern` are held (the first connection only). */
  hold(pattern: RegExp, what: 'answer' | 'request'): void;
  /** Resolves with the request line once a request is held (for 'answer': once the node has answered it). */
  held(): Promise<string>;
  /** Destroys the held connections: the client gets no answer. */
  cut(): void;
  /** Delivers what was held and stops holding. */
  release(): void;
  close(): Promise<void>;
}

interface Connection {
  client: net.Socket;
  upstream: net.Socket;
  requestLine: string;
  held: boolean;
  pending: Buffer[];
}

export async function startCutProxy(upstream: string): Promise<CutProxy> {
  const target = new URL(upstream);
  let pattern: RegExp | null = null;
  let mode: 'answer' | 'request' = 'answer';
  const heldLines: string[] = [];
  const waiters: Array<(line: string) => void> = [];
  const connections = new Set<Connection>();
  const notify = (line: string): void => {
    heldLines.push(line);
    for (const waiter of waiters.splice(0)) waiter(line);
  };
  const grab = (connection: Connection): boolean => {
    if (pattern === null || !pattern.test(connection.requestLine)) return false;
    pattern = null; // one held request per hold()
    connection.held = true;
    return true;
  };

  const server = net.createServer((client) => {
    const upstreamSocket = net.connect(Number(target.port), target.hostname);
    const connection: Connection = { client, upstream: upstreamSocket, requestLine: '', held: false, pending: [] };
    connections.add(connection);
    client.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      if (/^[A-Z]+ \S+ HTTP\/1\.[01]\r\n/.test(text)) {
        connection.requestLine = text.slice(0, text.indexOf('\r\n'));
        if (mode === 'request' && !connection.held && grab(connection)) notify(connection.requestLine);
      }
      if (connection.held && mode === 'request') connection.pending.push(chunk);
      else upstreamSocket.write(chunk);
    });
    upstreamSocket.on('data', (chunk: Buffer) => {
      if (mode === 'answer' && !connection.held && grab(connection)) {
        connection.pending.push(chunk);
        notify(connection.requestLine);
        return;
      }
      if (connection.held && mode === 'answer') connection.pending.push(chunk);
      else client.write(chunk);
    });
    upstreamSocket.on('end', () => {
      if (!connection.held) client.end();
    });
    client.on('end', () => upstreamSocket.end());
    for (const socket of [client, upstreamSocket]) {
      socket.on('error', () => {
        if (connection.held) return; // kept for cut()/release()
        client.destroy();
        upstreamSocket.destroy();
      });
      socket.on('close', () => {
        if (socket === client) connections.delete(connection);
        else if (!connection.held) client.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;

  return {
    address: `http://127.0.0.1:${port}`,
    hold(p, what) {
      pattern = p;
      mode = what;
      heldLines.length = 0;
    },
    held() {
      const first = heldLines[0];
      return first !== undefined ? Promise.resolve(first) : new Promise((resolve) => waiters.push(resolve));
    },
    cut() {
      pattern = null;
      for (const connection of connections) {
        if (!connection.held) continue;
        connection.client.resetAndDestroy();
        connection.upstream.destroy();
      }
    },
    release() {
      pattern = null;
      for (const connection of connections) {
        if (!connection.held) continue;
        connection.held = false;
        for (const chunk of connection.pending.splice(0)) (mode === 'answer' ? connection.client : connection.upstream).write(chunk);
      }
    },
    async close() {
      for (const connection of connections) {
        connection.client.destroy();
        connection.upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
