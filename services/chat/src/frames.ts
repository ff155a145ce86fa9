import { chat } from '@livehouse/contracts';
import { AppError } from '@livehouse/kit';
import { Compile } from 'typebox/compile';

/** The client's side of the protocol (PROTOCOL.md): parsing frames, validating text, budgeting frames. Pure. */

const checkFrame = Compile(chat.ClientFrame);
const FRAME_TYPES = ['send', 'delete', 'ban', 'unban', 'ping'];
// C0 and C1 control characters (newlines and tabs included): chat messages are one line of text.
const CONTROL = /\p{Cc}/u;

/** Messages must be one line of well-formed text of 1…max characters (code points). */
export function validateText(text: string, max: number): string {
  const trimmed = text.trim();
  if (trimmed.length === 0) throw new AppError('validation_failed', 'text is empty');
  if (!trimmed.isWellFormed()) throw new AppError('validation_failed', 'text is not well-formed Unicode');
  if (CONTROL.test(trimmed)) throw new AppError('validation_failed', 'text may not contain control characters');
  let length = 0;
  for (const _ of trimmed) if (++length > max) break;
  if (length > max) throw new AppError('validation_failed', `text is longer than ${max} characters`);
  return trimmed;
}

/** A frame that asks the room for something (everything but ping). */
export type Action = Exclude<chat.ClientFrame, { type: 'ping' }>;

export type InvalidFrameCode = 'unsupported_media_type' | 'invalid_json' | 'validation_failed';
export type ParsedFrame =
  | { ok: true; frame: chat.ClientFrame }
  | { ok: false; code: InvalidFrameCode; message: string; ref?: string };

/** A client frame from its text (or a binary frame, which is refused). */
export function parseClientFrame(text: string, isBinary: boolean): ParsedFrame {
  if (isBinary) {
    return {
      ok: false,
      code: 'unsupported_media_type',
      message: 'send JSON in text frames; binary frames are not accepted',
    };
  }
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    return { ok: false, code: 'invalid_json', message: 'the frame is not valid JSON' };
  }
  if (checkFrame.Check(frame)) return { ok: true, frame };
  const { type, ref } = (typeof frame === 'object' && frame !== null ? frame : {}) as { type?: unknown; ref?: unknown };
  return {
    ok: false,
    // Echoed when it is a ref the schema would take, so the client can match the refusal to its frame.
    ...(typeof ref === 'string' && ref.length <= 64 && ref.isWellFormed() && !ref.includes('\0') && { ref }),
    code: 'validation_failed',
    message:
      typeof type === 'string' && FRAME_TYPES.includes(type)
        ? `invalid ${type} frame: see PROTOCOL.md`
        : 'unknown frame type: send, delete, ban, unban or ping',
  };
}

/** The error frame answering a failed action; `unexpected` when it was our fault (to be logged). */
export function errorFrame(ref: string | undefined, err: unknown): { frame: chat.ServerFrame; unexpected: boolean } {
  const e = err instanceof AppError ? err : undefined;
  const retry = e?.headers?.['retry-after-ms'];
  return {
    unexpected: !e,
    frame: {
      type: 'error',
      ...(ref !== undefined && { ref }),
      code: e?.code ?? 'internal_error',
      message: e?.message ?? 'something went wrong on our side',
      ...(retry !== undefined && { retryAfterMs: Number(retry) }),
    },
  };
}

/**
 * One connection's frame budget: a token bucket of `rate` frames per second (bursts of twice that),
 * and at most `maxInvalidPerMinute` invalid frames per minute. Either exhausted: close with 1008.
 */
export class FrameBudget {
  readonly rate: number;
  readonly #maxInvalid: number;
  #tokens: number;
  #refilledAt: number;
  #invalid = 0;
  #invalidSince: number;

  constructor(rate: number, maxInvalidPerMinute: number, now: number) {
    this.rate = rate;
    this.#maxInvalid = maxInvalidPerMinute;
    this.#tokens = rate * 2;
    this.#refilledAt = now;
    this.#invalidSince = now;
  }

  /** Spends a token for a frame; false when there is none left. */
  take(now: number): boolean {
    this.#tokens = Math.min(this.rate * 2, this.#tokens + ((now - this.#refilledAt) * this.rate) / 1000);
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Counts an invalid frame; false once the minute's allowance is exceeded. */
  invalid(now: number): boolean {
    if (now - this.#invalidSince > 60_000) {
      this.#invalid = 0;
      this.#invalidSince = now;
    }
    return ++this.#invalid <= this.#maxInvalid;
  }
}
