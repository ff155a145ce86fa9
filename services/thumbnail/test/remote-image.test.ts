import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPrivateAddress, RemoteImageFetcher } from '../src/remote-image.ts';

describe('remote channel images', () => {
  let server: Server;
  let port: number;
  let hits = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits++;
      if (req.url === '/big') res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.alloc(4096));
      else if (req.url === '/big-chunked') {
        res.writeHead(200, { 'content-type': 'image/png' });
        res.write(Buffer.alloc(800));
        res.end(Buffer.alloc(800));
      } else if (req.url === '/redirect')
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data' }).end();
      else res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.alloc(10));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => server?.close());

  it('when an address is loopback, private, link-local or unique-local, then it counts as private', () => {
    const cases: [string, boolean][] = [
      ['127.0.0.1', true],
      ['10.1.2.3', true],
      ['172.16.0.1', true],
      ['172.32.0.1', false],
      ['192.168.1.1', true],
      ['169.254.169.254', true],
      ['100.64.0.1', true],
      ['0.0.0.0', true],
      ['8.8.8.8', false],
      ['::1', true],
      ['::ffff:127.0.0.1', true],
      ['::ffff:8.8.8.8', false],
      ['fd00::1', true],
      ['fe80::1', true],
      ['2001:4860:4860::8888', false],
      ['not-an-address', true],
    ];
    for (const [address, expected] of cases) expect([address, isPrivateAddress(address)]).toEqual([address, expected]);
  });

  it('when the URL names a private address or a host resolving to one, then nothing is requested', async () => {
    const fetcher = new RemoteImageFetcher({ allowPrivateNetworks: false, timeoutMs: 2000, maxBytes: 1 << 20 });
    try {
      const before = hits;
      await expect(fetcher.fetch(`http://127.0.0.1:${port}/x.png`)).rejects.toThrow(/private address/);
      await expect(fetcher.fetch(`http://[::ffff:127.0.0.1]:${port}/x.png`)).rejects.toThrow(/private address/);
      // localhost goes through DNS: the lookup refuses the answer at connect time.
      await expect(fetcher.fetch(`http://localhost:${port}/x.png`)).rejects.toThrow();
      await expect(fetcher.fetch('file:///etc/passwd')).rejects.toThrow(/file:/);
      expect(hits).toBe(before);
    } finally {
      await fetcher.close();
    }
  });

  it('when the answer is too large or redirects, then the fetch fails', async () => {
    const fetcher = new RemoteImageFetcher({ allowPrivateNetworks: true, timeoutMs: 2000, maxBytes: 1024 });
    try {
      expect((await fetcher.fetch(`http://127.0.0.1:${port}/small`)).length).toBe(10);
      await expect(fetcher.fetch(`http://127.0.0.1:${port}/big`)).rejects.toThrow(/larger than 1024/);
      await expect(fetcher.fetch(`http://127.0.0.1:${port}/big-chunked`)).rejects.toThrow(/larger than 1024/);
      await expect(fetcher.fetch(`http://127.0.0.1:${port}/redirect`)).rejects.toThrow();
    } finally {
      await fetcher.close();
    }
  });
});
