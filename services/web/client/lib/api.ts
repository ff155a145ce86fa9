/** The islands' calls to the web server (same origin; the session cookie is HttpOnly, the CSRF token goes in a header). */
export async function post<T>(path: string, csrf: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', accept: 'application/json', 'csrf-token': csrf, ...headers },
    body: JSON.stringify(body),
  });
  const json = (await res.json().catch(() => ({}))) as T & { error?: { code: string; message: string } };
  return { ok: res.ok, status: res.status, body: json };
}

export async function get<T>(path: string) {
  const res = await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return (await res.json()) as T;
}
