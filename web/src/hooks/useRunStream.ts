// The live side of the chat: one WebSocket for the signed-in user (resumed after every drop) folded
// into the run store of state/runs.ts, plus the REST reads that fill in what the socket did not see.

import { useCallback, useEffect, useEffectEvent, useRef, useState } from 'react';
import type { BootConfig } from '../App';
import * as chat from '../api/chat';
import { session } from '../api/session';
import { isServerEnvelope, type Envelope, type Run, type Thread, type UsageAlert } from '../api/types';
import { alertOfFrame } from '../state/alerts';
import { RealtimeClient, type ConnectionStatus } from '../realtime/socket';
import { applyLiveFrame, applyRunEvents, applyRunSnapshot, emptyStream, isTerminal, setEpoch, type StreamState } from '../state/runs';

export function wsUrl(config: BootConfig): string {
  const fallback = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
  const configured = config.app.ws_url;
  if (!configured) return fallback;
  try {
    const u = new URL(configured, fallback);
    if (u.protocol === 'http:') u.protocol = 'ws:';
    if (u.protocol === 'https:') u.protocol = 'wss:';
    return u.toString();
  } catch {
    return fallback;
  }
}

export interface RunStreamHandlers {
  /** `thread_created` / `thread_updated`. */
  onThread: (t: Thread) => void;
  /** A run of this thread ended: its stored answer can be read back. */
  onRunEnded: (threadId: string) => void;
  /** An `error` frame worth showing. */
  onError: (message: string) => void;
  /** The server could not replay what was missed (`resumed` with `recovered: false`). */
  onLost: () => void;
  /** A `usage_alert` event not seen before (a budget or spike alert of a live dataset). */
  onUsageAlert?: (alert: UsageAlert) => void;
}

export interface RunStream {
  stream: StreamState;
  status: ConnectionStatus;
  /** Reads runs over REST (events and settlement); runs already settled with a report are skipped unless forced. */
  refreshRuns: (runIds: string[], threadId?: string, force?: boolean) => Promise<void>;
  /** Reads every run not settled yet again (after a lost resume). */
  refreshOpenRuns: () => Promise<void>;
  /** A run just started over REST (POST message). */
  started: (run: Run) => void;
  /** Sends a command over the socket; false when it is not open. */
  command: (frame: { type: string; payload?: Record<string, unknown> }) => boolean;
}

export function useRunStream(config: BootConfig, handlers: RunStreamHandlers): RunStream {
  const [stream, setStream] = useState<StreamState>(emptyStream);
  // Stream updates go through a ref first so the socket reads the newest position synchronously.
  const streamRef = useRef<StreamState>(emptyStream);
  const [status, setStatus] = useState<ConnectionStatus>('connecting');
  const clientRef = useRef<RealtimeClient | null>(null);

  const update = useCallback((fn: (s: StreamState) => StreamState) => {
    const next = fn(streamRef.current);
    if (next !== streamRef.current) {
      streamRef.current = next;
      setStream(next);
    }
  }, []);

  const refreshRuns = useCallback(
    async (runIds: string[], threadId?: string, force = false) => {
      await Promise.all(
        runIds.map(async (rid) => {
          const known = streamRef.current.runs[rid];
          if (!force && known?.final && known.events.length > 0 && (known.report !== undefined || known.result !== undefined)) return;
          const [events, run] = await Promise.all([chat.runEvents(rid).catch(() => [] as Envelope[]), chat.getRun(rid).catch(() => null)]);
          update((s) => {
            let runs = applyRunEvents(
              s.runs,
              events.map((e) => ({ ...e, run_id: e.run_id ?? rid, thread_id: e.thread_id ?? threadId })),
            );
            if (run) runs = applyRunSnapshot(runs, run);
            return runs === s.runs ? s : { ...s, runs };
          });
        }),
      );
    },
    [update],
  );

  const refreshOpenRuns = useCallback(
    () =>
      refreshRuns(
        Object.values(streamRef.current.runs)
          .filter((r) => !r.final)
          .map((r) => r.id),
        undefined,
        true,
      ),
    [refreshRuns],
  );

  const started = useCallback(
    (run: Run) => update((s) => ({ ...s, runs: applyRunSnapshot(s.runs, run) })),
    [update],
  );

  const command = useCallback((frame: { type: string; payload?: Record<string, unknown> }) => clientRef.current?.send(frame) ?? false, []);

  // Always the newest handlers, without reopening the socket when they change.
  const onFrame = useEffectEvent((raw: Envelope) => {
    if (!isServerEnvelope(raw)) return;
    const f = raw;
    switch (f.type) {
      case 'connection_established': {
        const epoch = f.payload?.epoch;
        update((s) => setEpoch(s, typeof epoch === 'string' ? epoch : String(epoch ?? ''), Number(f.payload?.last_seq ?? 0)));
        return;
      }
      case 'resumed':
        if (f.payload?.recovered === false) handlers.onLost();
        return;
      case 'error': {
        const p = f.payload ?? {};
        if (p.code === 'run_active') handlers.onError('This conversation is still working on the previous message.');
        else if (p.code !== 'token_expired' && typeof p.message === 'string') handlers.onError(p.message);
        return;
      }
      case 'thread_created':
      case 'thread_updated': {
        update((s) => applyLiveFrame(s, f));
        const t = f.payload?.thread;
        if (t && typeof t.id === 'string') handlers.onThread(t);
        return;
      }
      case 'usage_alert': {
        // On the user's stream like any event: it moves the resume position; a replayed one is not news.
        const before = streamRef.current;
        update((s) => applyLiveFrame(s, f));
        const alert = alertOfFrame(f);
        if (alert && (streamRef.current !== before || typeof f.seq !== 'number')) handlers.onUsageAlert?.(alert);
        return;
      }
      case 'ack':
      case 'pong':
      case 'heartbeat':
        return;
      default: {
        const before = streamRef.current;
        update((s) => applyLiveFrame(s, f));
        // The answer is stored before the terminal event: read it back, and the new order.
        if (streamRef.current !== before && isTerminal(f) && f.thread_id) handlers.onRunEnded(f.thread_id);
      }
    }
  });

  useEffect(() => {
    const client = new RealtimeClient({
      url: () => wsUrl(config),
      token: () => session.accessToken(),
      position: () => ({ epoch: streamRef.current.epoch, lastSeq: streamRef.current.lastSeq }),
      onFrame: (f) => onFrame(f),
      onStatus: setStatus,
      onAuthProblem: async () => {
        try {
          return (await session.refresh()) !== null;
        } catch {
          return true;
        }
      },
    });
    clientRef.current = client;
    client.start();
    const unsub = session.subscribe((s) => {
      if (s) client.renew(s.accessToken);
    });
    return () => {
      unsub();
      client.stop();
      clientRef.current = null;
    };
  }, [config]);

  return { stream, status, refreshRuns, refreshOpenRuns, started, command };
}
