// A terminal client of a chat room, for the README walk-through and for poking at the protocol:
// connects, prints what the room says, sends each stdin line as a message, reconnects with ?since.
//
//   node services/chat/scripts/chat-client.ts [--stream <streamId>] [--user <uuid>] [--roles viewer]
//        [--url http://127.0.0.1:7007] [--contents http://127.0.0.1:7003] [--data .livehouse]
//
// Without --stream it joins the most watched live stream (asked from contents).
//
// chat only accepts internal tokens (the BFF signs them for end users): this script signs its own
// with LIVEHOUSE_INTERNAL_KEY, or the key `livehouse up` keeps in <data>/secrets.json. Without
// --user it is an anonymous reader. Lines starting with / are commands: /delete <id>, /ban <userId>,
// /unban <userId>, /raw <json> (any frame, to try the error frames), /quit.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { InternalAuth } from '@livehouse/kit';
import { WebSocket } from 'ws';

const { values } = parseArgs({
  options: {
    stream: { type: 'string' },
    user: { type: 'string' },
    roles: { type: 'string', default: 'viewer' },
    url: { type: 'string', default: 'http://127.0.0.1:7007' },
    contents: { type: 'string', default: 'http://127.0.0.1:7003' },
    data: { type: 'string', default: '.livehouse' },
    since: { type: 'string' },
  },
});
function internalKey() {
  if (process.env.LIVEHOUSE_INTERNAL_KEY) return process.env.LIVEHOUSE_INTERNAL_KEY;
  try {
    const secrets = JSON.parse(readFileSync(join(values.data, 'secrets.json'), 'utf8')) as Record<string, string>;
    if (secrets.LIVEHOUSE_INTERNAL_KEY) return secrets.LIVEHOUSE_INTERNAL_KEY;
  } catch {
    // fall through
  }
  console.error(
    `set LIVEHOUSE_INTERNAL_KEY, or run next to the data folder of \`livehouse up\` (--data ${values.data})`,
  );
  process.exit(2);
}

const auth = new InternalAuth(internalKey());
if (!values.stream) {
  const token = await auth.sign({ service: 'chat-client' });
  const res = await fetch(`${values.contents}/streams/live?limit=1`, { headers: { authorization: `Bearer ${token}` } });
  const live = ((await res.json()) as { items?: { id: string; title: string; ownerId: string }[] }).items?.[0];
  if (!live) {
    console.error('no live stream: pass --stream <streamId>');
    process.exit(2);
  }
  console.log(`the most watched live stream: "${live.title}" (${live.id}), owner ${live.ownerId}`);
  values.stream = live.id;
}
const roles = values.roles.split(',') as ('viewer' | 'streamer' | 'admin')[];
const user = values.user ? { id: values.user, roles } : undefined;
let lastId = values.since !== undefined ? Number(values.since) : undefined;
let socket: WebSocket | undefined;
let quitting = false;

const time = (at: number) => new Date(at).toTimeString().slice(0, 8);
const who = (id: string) => (id === user?.id ? 'you' : id.slice(0, 8));

function show(item: Record<string, unknown>) {
  const at = time(item.at as number);
  switch (item.type) {
    case 'message':
      return console.log(`#${item.id} ${at} <${who(item.userId as string)}> ${item.text}`);
    case 'stamp':
      return console.log(
        `#${item.id} ${at} ★ stamp ${item.stampId} from ${who(item.senderId as string)} (${item.price} points, tx ${item.txId})`,
      );
    case 'delete':
      return console.log(`#${item.id} ${at} — message #${item.messageId} was deleted`);
    case 'ban':
    case 'unban':
      return console.log(`#${item.id} ${at} — ${item.userId} was ${item.type === 'ban' ? 'banned' : 'unbanned'}`);
    case 'settings':
      return console.log(`#${item.id} ${at} — settings: ${JSON.stringify(item.settings)}`);
    default:
      return console.log(`#${item.id} ${JSON.stringify(item)}`);
  }
}

async function connect() {
  const base = values.url.replace(/^http/, 'ws');
  const query = lastId !== undefined ? `?since=${lastId}` : '';
  const token = await auth.sign({ service: 'chat-client', ...(user && { user }) });
  const ws = new WebSocket(`${base}/rooms/${values.stream}/ws${query}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  socket = ws;
  ws.on('unexpected-response', (_req, res) => {
    let body = '';
    res.on('data', (d) => {
      body += d;
    });
    res.on('end', () => {
      console.error(`refused: HTTP ${res.statusCode} ${body}`);
      process.exit(1);
    });
  });
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as Record<string, unknown>;
    if (frame.type === 'welcome') {
      for (const f of waiting.splice(0)) ws.send(f);
      const u = frame.user as { id: string; moderator: boolean } | null;
      console.log(
        `joined room ${frame.streamId} as ${u ? `${u.id}${u.moderator ? ' (moderator)' : ''}` : 'an anonymous reader'}; settings ${JSON.stringify(frame.settings)}`,
      );
    } else if (frame.type === 'history' || frame.type === 'items') {
      if (frame.type === 'history')
        console.log(frame.resumed ? '(resumed: everything since you left)' : '(recent history)');
      for (const item of frame.items as Record<string, unknown>[]) {
        if (lastId !== undefined && (item.id as number) <= lastId) continue;
        lastId = item.id as number;
        show(item);
      }
    } else if (frame.type === 'error') {
      console.log(
        `! ${frame.code}: ${frame.message}${frame.retryAfterMs ? ` (retry in ${frame.retryAfterMs} ms)` : ''}`,
      );
    } else if (frame.type !== 'ack' && frame.type !== 'pong') {
      console.log(JSON.stringify(frame));
    }
  });
  ws.on('close', (code, reason) => {
    if (quitting) return;
    console.log(`closed: ${code} ${reason.toString()}`);
    // 4003: banned — reconnecting would be refused; everything else: try again, resuming.
    if (code === 4003) process.exit(1);
    setTimeout(() => void connect(), 1000);
  });
  ws.on('error', () => {});
}

/** Lines typed before the room answered (or while reconnecting) wait for the socket. */
const waiting: string[] = [];
function write(frame: string) {
  if (socket?.readyState === WebSocket.OPEN) socket.send(frame);
  else waiting.push(frame);
}

await connect();
let ref = 0;
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [command, arg] = line.trim().split(/\s+(.*)/s);
  const send = (frame: object) => write(JSON.stringify({ ...frame, ref: `c${++ref}` }));
  if (command === '/quit') {
    quitting = true;
    socket?.close(1000);
    process.exit(0);
  } else if (command === '/delete') send({ type: 'delete', messageId: Number(arg) });
  else if (command === '/ban' || command === '/unban') send({ type: command.slice(1), userId: arg });
  else if (command === '/raw') write(arg ?? '');
  else if (line.trim()) send({ type: 'send', text: line });
});
lines.on('close', () => {
  // stdin ended (e.g. piped input): keep reading the room until Ctrl-C.
});
