import type { UsageAlert } from '../api/types';
import { alertFigures, alertTitle } from '../state/alerts';

/**
 * Alerts that arrived while the app is open. The live region is always in the page (a region
 * inserted together with its text is not announced by every screen reader), polite so it never
 * interrupts, and nothing steals focus.
 */
export function AlertToasts({ toasts, onDismiss, onOpen }: { toasts: UsageAlert[]; onDismiss: (id: string) => void; onOpen: () => void }) {
  return (
    <div className="alert-toasts" role="status" aria-live="polite" aria-label="Usage alerts" data-testid="alert-toasts">
      {toasts.map((a) => (
        <div className="toast" key={a.id} data-testid="alert-toast">
          <p>
            <b>{alertTitle(a)}</b>
            <br />
            {a.message}
          </p>
          <div className="toast-actions">
            <button type="button" className="small" onClick={onOpen}>
              Live usage
            </button>
            <button type="button" className="icon small" aria-label={`Dismiss alert: ${alertTitle(a)}`} onClick={() => onDismiss(a.id)}>
              ✕
            </button>
          </div>
        </div>
      ))}
    </div>
  );
}

/** The recent alerts, newest first. */
export function AlertList({ alerts }: { alerts: UsageAlert[] }) {
  if (alerts.length === 0) return <p className="muted small">No alerts yet. Set a budget on a live dataset to get one when the month's projected spend crosses it.</p>;
  return (
    <ul className="alert-list" data-testid="alert-list">
      {alerts.map((a) => (
        <li key={a.id}>
          <b>{alertTitle(a)}</b> <span className="muted small">({alertFigures(a)})</span>
          <br />
          <span>{a.message}</span>{' '}
          <time className="muted small" dateTime={a.created_at}>
            {new Date(a.created_at).toLocaleString()}
          </time>
        </li>
      ))}
    </ul>
  );
}
