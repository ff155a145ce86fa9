const ENTITY_TAG = /^(?:W\/)?"([\x21\x23-\x7e\x80-\xff]*)"$/;

/** The opaque part of an entity tag (`"abc"` or `W/"abc"` → `abc`), or undefined when it is not one. */
export function opaqueTag(tag: string): string | undefined {
  return ENTITY_TAG.exec(tag.trim())?.[1];
}

/**
 * RFC 9110 §13.1.2: does `If-None-Match` match the current `etag`? `*` matches anything; otherwise a list of
 * entity tags, compared weakly (`W/"x"` matches `"x"`). Malformed members match nothing; commas inside a tag
 * are part of it.
 */
export function ifNoneMatch(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const current = opaqueTag(etag);
  if (current === undefined) return false;
  const value = Array.isArray(header) ? header.join(',') : header;
  if (value.trim() === '*') return true;
  for (const match of value.matchAll(/\s*((?:W\/)?"[^"]*"|[^,]*)\s*(?:,|$)/g)) {
    const member = match[1];
    if (member && opaqueTag(member) === current) return true;
    if (match[0] === '') break;
  }
  return false;
}
