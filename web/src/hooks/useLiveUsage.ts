// Live usage state for the settings panel and the alert toasts: thin hooks over api/usage.ts and the
// pure rules of state/alerts.ts (which the unit tests cover).

import { useCallback, useEffect, useState } from 'react';
import * as usage from '../api/usage';
import type { CreatedIngestKey, IngestKey, UsageAlert } from '../api/types';
import { dismissed, emptyAlerts, loaded, received, type AlertState } from '../state/alerts';

export function errorText(e: unknown, fallback: string): string {
  return e instanceof Error && e.message ? e.message : fallback;
}

export interface UsageAlerts {
  alerts: UsageAlert[];
  toasts: UsageAlert[];
  error: string | null;
  /** A `usage_alert` event from the socket. */
  receive: (alert: UsageAlert) => void;
  dismiss: (id: string) => void;
  reload: () => Promise<void>;
}

/** Recent alerts (GET /api/alerts, read once and on demand) plus the live ones. */
export function useUsageAlerts(): UsageAlerts {
  const [state, setState] = useState<AlertState>(emptyAlerts);
  const [error, setError] = useState<string | null>(null);

  const reload = useCallback(async () => {
    try {
      const list = await usage.listAlerts();
      setState((s) => loaded(s, list));
      setError(null);
    } catch (e) {
      setError(errorText(e, 'The alerts could not be loaded.'));
    }
  }, []);

  useEffect(() => {
    let live = true;
    usage.listAlerts().then(
      (list) => live && setState((s) => loaded(s, list)),
      // Without the alerts route (an older server) the list stays empty; live alerts still show.
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, []);

  const receive = useCallback((alert: UsageAlert) => setState((s) => received(s, alert)), []);
  const dismiss = useCallback((id: string) => setState((s) => dismissed(s, id)), []);
  return { alerts: state.alerts, toasts: state.toasts, error, receive, dismiss, reload };
}

export interface IngestKeys {
  keys: IngestKey[] | null;
  error: string | null;
  /** The key just created: its secret is shown until `acknowledge`. */
  created: CreatedIngestKey | null;
  create: (name: string) => Promise<boolean>;
  revoke: (id: string) => Promise<boolean>;
  acknowledge: () => void;
}

export function useIngestKeys(): IngestKeys {
  const [keys, setKeys] = useState<IngestKey[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<CreatedIngestKey | null>(null);

  useEffect(() => {
    let live = true;
    usage.listIngestKeys().then(
      (list) => live && setKeys(list),
      (e: unknown) => {
        if (!live) return;
        setKeys([]);
        setError(errorText(e, 'The ingest keys could not be loaded.'));
      },
    );
    return () => {
      live = false;
    };
  }, []);

  const create = useCallback(async (name: string) => {
    setError(null);
    try {
      const key = await usage.createIngestKey(name);
      const { key: _secret, ...listed } = key;
      setKeys((k) => [listed, ...(k ?? []).filter((x) => x.id !== key.id)]);
      setCreated(key);
      return true;
    } catch (e) {
      setError(errorText(e, 'The key could not be created.'));
      return false;
    }
  }, []);

  const revoke = useCallback(async (id: string) => {
    setError(null);
    try {
      await usage.revokeIngestKey(id);
      const now = new Date().toISOString();
      setKeys((k) => (k ?? []).map((x) => (x.id === id ? { ...x, revoked_at: x.revoked_at ?? now } : x)));
      return true;
    } catch (e) {
      setError(errorText(e, 'The key could not be revoked.'));
      return false;
    }
  }, []);

  const acknowledge = useCallback(() => setCreated(null), []);
  return { keys, error, created, create, revoke, acknowledge };
}
