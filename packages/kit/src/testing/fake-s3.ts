import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

export interface StoredObject {
  body: Buffer;
  contentType: string | undefined;
}

/**
 * For tests of services that keep files in S3 (`@livehouse/kit/testing/fake-s3`).
 * A tiny S3 (path style, single objects) that checks every request's SigV4 signature the way S3
 * does, independently of the client's code: a wrong key, a changed header or a changed body is a 403.
 */
export class FakeS3 {
  readonly objects = new Map<string, StoredObject>();
  readonly requests: { method: string; key: string; status: number }[] = [];
  /** The next this-many PUTs answer 500 (a flaky store). */
  failPuts = 0;
  url = '';
  readonly #server: Server;
  readonly #bucket: string;
  readonly #region: string;
  readonly #accessKeyId: string;
  readonly #secretAccessKey: string;
  readonly #sessionToken: string | undefined;

  /** With `sessionToken`, every request must carry it (temporary credentials, e.g. from EKS Pod Identity). */
  constructor(options: {
    bucket: string;
    region: string;
    accessKeyId: string;
    secretAccessKey: string;
    sessionToken?: string;
  }) {
    this.#bucket = options.bucket;
    this.#sessionToken = options.sessionToken;
    this.#region = options.region;
    this.#accessKeyId = options.accessKeyId;
    this.#secretAccessKey = options.secretAccessKey;
    this.#server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      const { status, payload, headers } = this.#handle(req, body);
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      this.requests.push({ method: req.method ?? '', key: path.split('/').slice(2).join('/'), status });
      res.writeHead(status, headers).end(payload);
    });
  }

  async start() {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  close() {
    return new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(
    req: IncomingMessage,
    body: Buffer,
  ): { status: number; payload?: Buffer | string; headers?: Record<string, string> } {
    const problem = this.#checkSignature(req, body);
    if (problem)
      return { status: 403, payload: `<Error><Code>SignatureDoesNotMatch</Code><Message>${problem}</Message></Error>` };
    const url = new URL(req.url ?? '/', 'http://x');
    const [, bucket, ...rest] = url.pathname.split('/');
    const key = rest.join('/');
    if (bucket !== this.#bucket) return { status: 404, payload: '<Error><Code>NoSuchBucket</Code></Error>' };
    switch (req.method) {
      case 'PUT':
        if (this.failPuts > 0) {
          this.failPuts--;
          return { status: 500, payload: '<Error><Code>InternalError</Code></Error>' };
        }
        this.objects.set(key, { body, contentType: req.headers['content-type'] });
        return { status: 200, headers: { etag: `"${createHash('md5').update(body).digest('hex')}"` } };
      case 'GET': {
        const object = this.objects.get(key);
        if (!object) return { status: 404, payload: '<Error><Code>NoSuchKey</Code></Error>' };
        return {
          status: 200,
          payload: object.body,
          headers: { 'content-type': object.contentType ?? 'binary/octet-stream' },
        };
      }
      case 'DELETE':
        this.objects.delete(key);
        return { status: 204 };
      default:
        return { status: 405 };
    }
  }

  /** SigV4 as S3 checks it; returns what is wrong, or undefined. */
  #checkSignature(req: IncomingMessage, body: Buffer): string | undefined {
    const auth = req.headers.authorization;
    const match = auth?.match(
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/,
    );
    if (!match) return 'missing or malformed Authorization header';
    const [, accessKeyId, date, region, signedHeaders, signature] = match as unknown as string[];
    if (accessKeyId !== this.#accessKeyId) return 'unknown access key';
    if (this.#sessionToken !== undefined) {
      if (req.headers['x-amz-security-token'] !== this.#sessionToken) return 'missing or wrong session token';
      if (!(signedHeaders as string).split(';').includes('x-amz-security-token')) return 'session token not signed';
    }
    if (region !== this.#region) return 'wrong region';
    const amzDate = req.headers['x-amz-date'];
    if (typeof amzDate !== 'string' || !amzDate.startsWith(date as string))
      return 'x-amz-date missing or not the credential date';
    const payloadHash = req.headers['x-amz-content-sha256'];
    if (typeof payloadHash !== 'string') return 'x-amz-content-sha256 missing';
    if (payloadHash !== 'UNSIGNED-PAYLOAD' && payloadHash !== sha256(body)) return 'the body does not match its hash';
    const names = (signedHeaders as string).split(';');
    if (!names.includes('host') || !names.includes('x-amz-date')) return 'host and x-amz-date must be signed';
    const url = new URL(req.url ?? '/', 'http://x');
    const canonicalRequest = [
      req.method,
      url.pathname,
      [...url.searchParams]
        .sort()
        .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
        .join('&'),
      `${names
        .map(
          (n) =>
            `${n}:${String(req.headers[n] ?? '')
              .trim()
              .replace(/\s+/g, ' ')}`,
        )
        .join('\n')}\n`,
      signedHeaders,
      payloadHash,
    ].join('\n');
    const scope = `${date}/${region}/s3/aws4_request`;
    const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
    const key = ['s3', 'aws4_request'].reduce(
      (k, part) => hmac(k, part),
      hmac(hmac(`AWS4${this.#secretAccessKey}`, date as string), region as string),
    );
    const expected = createHmac('sha256', key).update(stringToSign).digest('hex');
    return expected === signature ? undefined : 'signature does not match';
  }
}
