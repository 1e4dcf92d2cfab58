// The WebSocket client of docs/spec/realtime-protocol.md: token in the subprotocol list (browsers cannot set
// headers), resume with ?epoch=&last_seq= after any drop, reconnect with capped exponential backoff
// and jitter, heartbeat answers, and a liveness check that treats a silent socket as dead.

import type { Envelope } from '../api/types';

export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'offline';

export interface SocketOptions {
  url: () => string;
  token: () => Promise<string | null>;
  /** Where the stream left off: the client resumes after this seq of this epoch. */
  position: () => { epoch?: string; lastSeq: number };
  onFrame: (e: Envelope) => void;
  onStatus: (s: ConnectionStatus) => void;
  /** A 4401 close or repeated failures to open: the token may be stale. */
  onAuthProblem?: () => Promise<boolean>;
}

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 15_000;

export function base64url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 10));
  // "Equal jitter": never zero, never more than the cap.
  return Math.round(cap / 2 + (random() * cap) / 2);
}

export function resumeUrl(base: string, pos: { epoch?: string; lastSeq: number }): string {
  if (!pos.epoch) return base;
  const u = new URL(base);
  u.searchParams.set('epoch', pos.epoch);
  u.searchParams.set('last_seq', String(pos.lastSeq));
  return u.toString();
}

export class RealtimeClient {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private liveTimer: ReturnType<typeof setInterval> | undefined;
  private lastFrameAt = 0;
  private heartbeatMs = 25_000;
  private stopped = true;
  private status: ConnectionStatus = 'connecting';
  private everConnected = false;
  private readonly onOnline = () => {
    if (!this.stopped) this.reconnectNow();
  };
  private readonly onOffline = () => {
    this.setStatus('offline');
    // The socket may linger half-open; drop it so the resume starts cleanly when back.
    this.ws?.close();
  };

  constructor(private readonly opts: SocketOptions) {}

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    globalThis.addEventListener?.('online', this.onOnline);
    globalThis.addEventListener?.('offline', this.onOffline);
    void this.open();
  }

  stop() {
    this.stopped = true;
    globalThis.removeEventListener?.('online', this.onOnline);
    globalThis.removeEventListener?.('offline', this.onOffline);
    clearTimeout(this.retryTimer);
    clearInterval(this.liveTimer);
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000);
  }

  /** Sends a client frame; false when not connected. */
  send(frame: { type: string; id?: string; payload?: unknown }): boolean {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Moves the open connection's expiry after a token refresh. */
  renew(token: string) {
    this.send({ type: 'auth', payload: { token } });
  }

  /** Drops the current socket (tests and the offline toggle use it) and reconnects with resume. */
  reconnectNow() {
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    const ws = this.ws;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(4000);
    else void this.open();
  }

  get socket(): WebSocket | null {
    return this.ws;
  }

  private setStatus(s: ConnectionStatus) {
    if (this.status === s) return;
    this.status = s;
    this.opts.onStatus(s);
  }

  private async open() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    if (globalThis.navigator?.onLine === false) {
      this.setStatus('offline');
      return;
    }
    this.setStatus(this.everConnected ? 'reconnecting' : 'connecting');
    let token: string | null;
    try {
      token = await this.opts.token();
    } catch {
      token = null;
    }
    if (this.stopped) return;
    if (!token) {
      this.scheduleRetry();
      return;
    }
    const url = resumeUrl(this.opts.url(), this.opts.position());
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, ['jwt-auth', `jwt.${base64url(token)}`]);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.lastFrameAt = Date.now();
    };
    ws.onmessage = (m) => {
      // After close() nothing more is taken from this socket: what it still had in flight comes
      // back through the resume replay, exactly once.
      if (this.ws !== ws || ws.readyState !== WebSocket.OPEN) return;
      this.lastFrameAt = Date.now();
      let frame: Envelope;
      try {
        frame = JSON.parse(String(m.data)) as Envelope;
      } catch {
        return;
      }
      if (!frame || typeof frame.type !== 'string') return;
      if (frame.type === 'connection_established') {
        this.attempt = 0;
        this.everConnected = true;
        const hb = Number(frame.payload?.heartbeat_interval_s);
        if (Number.isFinite(hb) && hb > 0) this.heartbeatMs = hb * 1000;
        this.setStatus('connected');
        this.watchLiveness(ws);
      } else if (frame.type === 'heartbeat') {
        this.send({ type: 'heartbeat_ack', payload: { timestamp: new Date().toISOString() } });
      }
      this.opts.onFrame(frame);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.liveTimer);
      if (this.stopped) return;
      if (ev.code === 4401 || (!opened && this.attempt >= 1)) {
        // Token expired or revoked, or the upgrade keeps being refused: refresh before retrying.
        void (this.opts.onAuthProblem?.() ?? Promise.resolve(true)).then((ok) => {
          if (ok) this.scheduleRetry();
        });
        return;
      }
      this.scheduleRetry();
    };
  }

  private watchLiveness(ws: WebSocket) {
    clearInterval(this.liveTimer);
    this.liveTimer = setInterval(() => {
      // The server speaks at least every heartbeat interval; twice that plus slack means gone.
      if (Date.now() - this.lastFrameAt > this.heartbeatMs * 2 + 5_000) ws.close(4000);
      else if (Date.now() - this.lastFrameAt > this.heartbeatMs) this.send({ type: 'ping', payload: { timestamp: new Date().toISOString() } });
    }, 5_000);
  }

  private scheduleRetry() {
    if (this.stopped) return;
    if (globalThis.navigator?.onLine === false) {
      this.setStatus('offline');
      return;
    }
    this.setStatus(this.everConnected ? 'reconnecting' : 'connecting');
    const delay = backoffDelay(this.attempt++);
    this.retryTimer = setTimeout(() => void this.open(), delay);
  }
}
