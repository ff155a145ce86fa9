import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * What the proxy does with each connection:
 * - `pass`: forward both ways;
 * - `down`: not listening, so connections are refused (like a killed backend);
 * - `blackhole`: accept and read, never answer;
 * - `http500`: answer every request 500 in the error format, without calling the target;
 * - `malformed`: answer every request 200 with a body that is not JSON;
 * - `slow`: forward, but hold every chunk of the answer back by `delayMs`.
 */
export type FaultMode = 'pass' | 'down' | 'blackhole' | 'http500' | 'malformed' | 'slow';

export interface FaultProxyOptions {
  /** Where `pass` and `slow` forward to: `http://host:port` or `host:port`. */
  target: string;
  host?: string;
  /** 0 (default) picks a free port; the proxy keeps it across `down` and back. */
  port?: number;
  mode?: FaultMode;
  /** How long `slow` holds answers back (default 2000 ms). */
  delayMs?: number;
}

const ERROR_BODY = JSON.stringify({
  error: { code: 'internal_error', message: 'injected by the fault proxy', requestId: 'fault-proxy' },
});
const NOT_JSON = '{"items":[{"id": <html>502 Bad Gateway</html>';

const response = (status: string, body: string) =>
  `HTTP/1.1 ${status}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: keep-alive\r\n\r\n${body}`;

/**
 * A fault-injecting TCP proxy for tests and benchmarks (no netem or Toxiproxy needed): put it between
 * a caller and a backend and switch its mode at run time. Switching cuts every open connection, so
 * the next request meets the new mode even on a keep-alive pool.
 */
export class FaultProxy {
  readonly #host: string;
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #port: number;
  #mode: FaultMode;
  #delayMs: number;

  private constructor(options: FaultProxyOptions) {
    const target = new URL(options.target.includes('://') ? options.target : `tcp://${options.target}`);
    this.#target = { host: target.hostname, port: Number(target.port) };
    this.#host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? 0;
    this.#mode = options.mode ?? 'pass';
    this.#delayMs = options.delayMs ?? 2000;
  }

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(options);
    if (proxy.#mode !== 'down') await proxy.#listen();
    else if (proxy.#port === 0) throw new Error('a proxy that starts down needs a fixed port');
    return proxy;
  }

  get url() {
    return `http://${this.#host}:${this.#port}`;
  }

  get port() {
    return this.#port;
  }

  get mode() {
    return this.#mode;
  }

  /** Switches the fault (and, for `slow`, the delay); open connections are cut. */
  async set(mode: FaultMode, options: { delayMs?: number } = {}) {
    this.#mode = mode;
    if (options.delayMs !== undefined) this.#delayMs = options.delayMs;
    this.#cutAll();
    if (mode === 'down') await this.#stopListening();
    else if (!this.#server) await this.#listen();
  }

  async close() {
    this.#cutAll();
    await this.#stopListening();
  }

  #listen() {
    const server = createServer((socket) => this.#accept(socket));
    return new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(this.#port, this.#host, () => {
        server.off('error', fail);
        this.#port = (server.address() as { port: number }).port;
        this.#server = server;
        ok();
      });
    });
  }

  #stopListening() {
    const server = this.#server;
    this.#server = undefined;
    return new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
  }

  #cutAll() {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }

  #track(socket: Socket) {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  #accept(client: Socket) {
    this.#track(client);
    switch (this.#mode) {
      case 'pass':
      case 'slow':
        return this.#forward(client, this.#mode === 'slow' ? this.#delayMs : 0);
      case 'blackhole':
        return client.resume();
      case 'http500':
        return answerEach(client, response('500 Internal Server Error', ERROR_BODY));
      case 'malformed':
        return answerEach(client, response('200 OK', NOT_JSON));
      case 'down':
        return client.destroy();
    }
  }

  #forward(client: Socket, delayMs: number) {
    const upstream = connect(this.#target.port, this.#target.host);
    this.#track(upstream);
    // Either side going away takes the other with it: a dead backend resets the caller's connection.
    // A clean close of the backend ends the caller's connection after what was written.
    client.on('close', () => upstream.destroy());
    upstream.on('close', (hadError) => {
      const done = () => (hadError ? client.destroy() : client.end());
      if (delayMs === 0) done();
      else setTimeout(done, delayMs);
    });
    client.pipe(upstream);
    if (delayMs === 0) {
      upstream.pipe(client);
      return;
    }
    upstream.on('data', (chunk: Buffer) => {
      setTimeout(() => {
        if (!client.destroyed) client.write(chunk);
      }, delayMs);
    });
  }
}

/** Reads HTTP/1.1 requests off a socket (Content-Length or chunked bodies) and answers each with `raw`. */
function answerEach(socket: Socket, raw: string) {
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (;;) {
      const headEnd = buffered.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const head = buffered.subarray(0, headEnd).toString('latin1');
      const bodyStart = headEnd + 4;
      let requestEnd: number;
      if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) {
        const last = buffered.indexOf('0\r\n\r\n', bodyStart);
        if (last < 0) return;
        requestEnd = last + 5;
      } else {
        requestEnd = bodyStart + Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < requestEnd) return;
      }
      buffered = buffered.subarray(requestEnd);
      socket.write(raw);
    }
  });
}
