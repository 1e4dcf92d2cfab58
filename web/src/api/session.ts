// Tokens and the authenticated fetch (docs/spec/auth-api.md). The refresh token is kept in localStorage so a
// reload stays signed in; the access token and its expiry are kept beside it so a reload within its
// lifetime does not rotate the refresh token. Refresh tokens rotate on every use and a reused one
// revokes the whole session, so concurrent refreshes (two tabs, two requests) are serialised through
// one promise and, where the browser has them, a Web Lock with a re-read of storage.

import type { AuthConfig, Problem, TokenPair, User } from './types';

const STORE_KEY = 'apex.session';
/** Refresh this long before the access token expires (docs/spec/auth-api.md: 30 s clock skew at most). */
const REFRESH_MARGIN_MS = 60_000;

export interface StoredSession {
  accessToken: string;
  refreshToken: string;
  /** Epoch ms at which the access token expires. */
  accessExpiresAt: number;
  user?: User;
}

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  constructor(status: number, problem: Problem) {
    super(problem.detail || problem.title || `Request failed (${status})`);
    this.status = status;
    this.problem = problem;
  }
  /** Field errors of a 422, keyed by lower-case field name. */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.problem.errors ?? {})) {
      const key = k.replace(/^\$\./, '').toLowerCase();
      out[key] = Array.isArray(v) ? v.join(' ') : String(v);
    }
    return out;
  }
}

export async function readProblem(res: Response): Promise<Problem> {
  try {
    const text = await res.text();
    if (!text) return { status: res.status, title: res.statusText };
    const body = JSON.parse(text) as Problem;
    return typeof body === 'object' && body ? body : { status: res.status, title: res.statusText };
  } catch {
    return { status: res.status, title: res.statusText };
  }
}

type Listener = (s: StoredSession | null) => void;

export class Session {
  private current: StoredSession | null;
  private refreshing: Promise<StoredSession | null> | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private listeners = new Set<Listener>();
  /** Base URL of the auth service ('' when it is this origin). */
  authBase = '';

  constructor(private readonly storage: Storage | undefined = globalThis.localStorage) {
    this.current = this.load();
    this.schedule();
  }

  get value(): StoredSession | null {
    return this.current;
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  private load(): StoredSession | null {
    try {
      const raw = this.storage?.getItem(STORE_KEY);
      if (!raw) return null;
      const s = JSON.parse(raw) as StoredSession;
      return s && typeof s.refreshToken === 'string' ? s : null;
    } catch {
      return null;
    }
  }

  private set(s: StoredSession | null) {
    this.current = s;
    try {
      if (s) this.storage?.setItem(STORE_KEY, JSON.stringify(s));
      else this.storage?.removeItem(STORE_KEY);
    } catch {
      // Storage full or blocked: the session still works for this page.
    }
    this.schedule();
    for (const l of this.listeners) l(s);
  }

  adopt(pair: TokenPair, user?: User) {
    this.set({
      accessToken: pair.access_token,
      refreshToken: pair.refresh_token,
      accessExpiresAt: Date.now() + Math.max(0, pair.expires_in) * 1000,
      user: user ?? pair.user ?? this.current?.user,
    });
  }

  setUser(user: User) {
    if (this.current) this.set({ ...this.current, user });
  }

  /** Forgets the session locally (the caller revokes it on the server first when it can). */
  clear() {
    this.set(null);
  }

  private schedule() {
    clearTimeout(this.timer);
    if (!this.current) return;
    const due = this.current.accessExpiresAt - REFRESH_MARGIN_MS - Date.now();
    this.timer = setTimeout(() => void this.refresh().catch(() => undefined), Math.max(1_000, due));
  }

  /** An access token valid for at least the refresh margin, refreshing first if needed. */
  async accessToken(): Promise<string | null> {
    const s = this.current;
    if (!s) return null;
    if (s.accessExpiresAt - Date.now() > REFRESH_MARGIN_MS / 2) return s.accessToken;
    const fresh = await this.refresh();
    return fresh?.accessToken ?? null;
  }

  /**
   * Rotates the refresh token. Concurrent callers share one request. A definitive refusal (401)
   * ends the session; a network failure keeps it so a later try can succeed.
   */
  refresh(): Promise<StoredSession | null> {
    if (this.refreshing) return this.refreshing;
    const used = this.current?.refreshToken;
    if (!used) return Promise.resolve(null);
    const run = async (): Promise<StoredSession | null> => {
      // Another tab may have rotated the token while this one waited for the lock.
      const stored = this.load();
      if (stored && stored.refreshToken !== used) {
        this.current = stored;
        this.schedule();
        for (const l of this.listeners) l(stored);
        return stored;
      }
      const res = await fetch(`${this.authBase}/auth/refresh`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ refresh_token: used }),
      });
      if (res.status === 401 || res.status === 400 || res.status === 403) {
        this.set(null);
        return null;
      }
      if (!res.ok) throw new ApiError(res.status, await readProblem(res));
      this.adopt((await res.json()) as TokenPair);
      return this.current;
    };
    const locks = (globalThis.navigator as Navigator | undefined)?.locks;
    const p = locks ? (locks.request('apex-refresh', run) as Promise<StoredSession | null>) : run();
    this.refreshing = p.finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }
}

export const session = new Session();

/**
 * fetch with the Bearer token. A 401 triggers one refresh and one retry; if the refresh fails the
 * session ends (the app returns to sign-in) and the original 401 is thrown.
 */
export async function apiFetch(path: string, init: RequestInit = {}, s: Session = session): Promise<Response> {
  const send = async (token: string | null) => {
    const headers = new Headers(init.headers);
    if (token) headers.set('Authorization', `Bearer ${token}`);
    if (init.body && typeof init.body === 'string' && !headers.has('Content-Type')) headers.set('Content-Type', 'application/json');
    return fetch(path, { ...init, headers });
  };
  let res = await send(await s.accessToken());
  if (res.status === 401 && s.value) {
    const fresh = await s.refresh().catch(() => null);
    if (fresh) res = await send(fresh.accessToken);
  }
  return res;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await apiFetch(path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw new ApiError(res.status, await readProblem(res));
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Unauthenticated JSON call (sign-in, register, config). */
export async function publicJson<T>(method: string, url: string, body?: unknown): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? undefined : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new ApiError(res.status, await readProblem(res));
  return (await res.json()) as T;
}

export async function signOut(s: Session = session) {
  const cur = s.value;
  if (cur) {
    try {
      await fetch(`${s.authBase}/auth/logout`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${cur.accessToken}` },
        body: JSON.stringify({ refresh_token: cur.refreshToken }),
      });
    } catch {
      // Offline: the tokens are still forgotten locally; the server lets them expire.
    }
  }
  s.clear();
}

export type { AuthConfig };
