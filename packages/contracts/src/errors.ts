import { Type } from 'typebox';

/**
 * The closed set of error codes every livehouse API may answer with, and the HTTP status of each.
 * One table for the whole platform, so a caller can branch on `error.code` whichever service it reached.
 * Documented in docs/errors.md; add a code here before using it anywhere.
 */
export const errorStatus = {
  // 400: the request itself is wrong
  bad_request: 400,
  invalid_json: 400,
  validation_failed: 400,
  idempotency_key_required: 400,
  idempotency_key_invalid: 400,
  webhook_signature_invalid: 400,
  // 401: who is calling is unknown or unproven
  unauthorized: 401,
  token_missing: 401,
  token_invalid: 401,
  token_expired: 401,
  invalid_credentials: 401,
  refresh_token_invalid: 401,
  refresh_token_reused: 401,
  internal_token_missing: 401,
  internal_token_invalid: 401,
  internal_token_expired: 401,
  // 403: known caller, not allowed
  forbidden: 403,
  // 404
  not_found: 404,
  route_not_found: 404,
  // 409: the state of the world forbids it
  conflict: 409,
  handle_taken: 409,
  email_taken: 409,
  invalid_transition: 409,
  insufficient_points: 409,
  already_refunded: 409,
  payment_id_reused: 409,
  debt_outstanding: 409,
  stream_not_live: 409,
  // 413, 415, 422, 429, 431
  payload_too_large: 413,
  headers_too_large: 431,
  unsupported_media_type: 415,
  idempotency_key_reused: 422,
  rate_limited: 429,
  // 5xx: our fault or a dependency's; details never leave the process
  internal_error: 500,
  upstream_error: 502,
  service_unavailable: 503,
  upstream_timeout: 504,
  deadline_exceeded: 504,
} as const;

export type ErrorCode = keyof typeof errorStatus;

export const ErrorBody = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    requestId: Type.String(),
    details: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  }),
});

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(errorStatus, code);
}
