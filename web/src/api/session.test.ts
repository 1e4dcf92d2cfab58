import { afterEach, describe, expect, it, vi } from 'vitest';
import { apiFetch, Session } from './session';

function memoryStorage(): Storage {
  const m = new Map<string, string>();
  return {
    get length() {
      return m.size;
    },
    clear: () => m.clear(),
    getItem: (k) => m.get(k) ?? null,
    key: (i) => [...m.keys()][i] ?? null,
    removeItem: (k) => void m.delete(k),
    setItem: (k, v) => void m.set(k, v),
  };
}

const pair = (n: number, expiresIn = 900) => ({ access_token: `access-${n}`, refresh_token: `refresh-${n}`, token_type: 'Bearer', expires_in: expiresIn });
const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe('Session', () => {
  it('shares one refresh between concurrent callers (a rotated token is worth one use)', async () => {
    const fetch = vi.fn(async () => json(200, pair(2)));
    vi.stubGlobal('fetch', fetch);
    const s = new Session(memoryStorage());
    s.adopt(pair(1));
    const [a, b] = await Promise.all([s.refresh(), s.refresh()]);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(a?.accessToken).toBe('access-2');
    expect(b?.refreshToken).toBe('refresh-2');
  });

  it('refreshes an access token that is about to expire before using it', async () => {
    const fetch = vi.fn(async () => json(200, pair(2)));
    vi.stubGlobal('fetch', fetch);
    const s = new Session(memoryStorage());
    s.adopt(pair(1, 10)); // expires in 10 s: inside the refresh margin
    expect(await s.accessToken()).toBe('access-2');
  });

  it('ends the session when the refresh is refused, and keeps it on a network failure', async () => {
    const storage = memoryStorage();
    const s = new Session(storage);
    s.adopt(pair(1));
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('offline'))));
    await expect(s.refresh()).rejects.toThrow('offline');
    expect(s.value?.refreshToken).toBe('refresh-1');
    vi.stubGlobal('fetch', vi.fn(async () => json(401, { title: 'Unauthorized' })));
    expect(await s.refresh()).toBeNull();
    expect(s.value).toBeNull();
    expect(storage.getItem('apex.session')).toBeNull();
  });

  it('retries a request once after a 401, with the refreshed token', async () => {
    const seen: string[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init?: RequestInit) => {
        if (url.endsWith('/auth/refresh')) return json(200, pair(2));
        const auth = new Headers(init?.headers).get('Authorization') ?? '';
        seen.push(auth);
        return auth === 'Bearer access-2' ? json(200, { ok: true }) : json(401, {});
      }),
    );
    const s = new Session(memoryStorage());
    s.adopt(pair(1));
    const res = await apiFetch('/api/threads', {}, s);
    expect(res.status).toBe(200);
    expect(seen).toEqual(['Bearer access-1', 'Bearer access-2']);
  });

  it('gives up after one retry: a second 401 is returned, not looped on', async () => {
    let calls = 0;
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string) => {
        if (url.endsWith('/auth/refresh')) return json(200, pair(2));
        calls++;
        return json(401, {});
      }),
    );
    const s = new Session(memoryStorage());
    s.adopt(pair(1));
    expect((await apiFetch('/api/threads', {}, s)).status).toBe(401);
    expect(calls).toBe(2);
  });

  it('restores a stored session after a reload', () => {
    const storage = memoryStorage();
    new Session(storage).adopt(pair(7), { id: 'usr_1', email: 'a@example.com' });
    const again = new Session(storage);
    expect(again.value).toMatchObject({ accessToken: 'access-7', user: { email: 'a@example.com' } });
  });
});
