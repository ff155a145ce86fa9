/**
 * Bench only: `livehouse serve bff` with the BFF's short-TTL public-section cache switched off, to
 * measure what that cache buys (there is no config key for it). Reaches into the BFF's sections on
 * purpose; coalescing of identical in-flight GETs stays on.
 */
import * as sections from '../../services/bff/src/views/sections.ts';

for (const section of Object.values(sections)) {
  if (section && typeof section === 'object' && 'cache' in section) delete (section as { cache?: unknown }).cache;
}
await import('../../packages/cli/src/main.ts');
