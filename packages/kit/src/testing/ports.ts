import { createServer } from 'node:net';

// Ports handed to child processes are picked here and bound later by the child. An ephemeral
// port (listen(0)) would be free now but can be taken in between by any outgoing connection of
// a test running in parallel; below Linux's ephemeral range (32768–60999) only another listener
// can take it, and each process remembers what it handed out.
const LOW = 20_000;
const HIGH = 32_000;
const handedOut = new Set<number>();

function bindable(port: number) {
  return new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A loopback TCP port that is free now, outside the ephemeral range, for a child process to listen on. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (handedOut.has(port)) continue;
    if (await bindable(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port between ${LOW} and ${HIGH}`);
}
