/**
 * The Content-Security-Policy of every page: scripts only from this origin (no inline scripts,
 * no eval), no plugins, no framing, forms only to this origin and the payment provider's checkout (the buy
 * form's answer redirects there, and form-action governs redirects too). HLS may come from the media origins
 * (the edge); hls.js feeds the video element through MediaSource blob: URLs.
 */
export function contentSecurityPolicy(mediaOrigins: readonly string[], checkoutOrigins: readonly string[] = []) {
  const media = mediaOrigins.join(' ');
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data: ${media}`.trim(),
    `media-src 'self' blob: ${media}`.trim(),
    `connect-src 'self' ${media}`.trim(),
    "worker-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    `form-action 'self' ${checkoutOrigins.join(' ')}`.trim(),
    "frame-ancestors 'none'",
  ].join('; ');
}

export const securityHeaders = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};
