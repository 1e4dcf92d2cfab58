import { useState } from 'react';
import type { Thread } from '../api/types';
import { ThemeToggle } from './ThemeToggle';

interface Props {
  threads: Thread[];
  showArchived: boolean;
  onShowArchived: (v: boolean) => void;
  currentId: string | null;
  onSelect: (id: string) => void;
  onNew: () => void;
  onRename: (t: Thread, title: string) => Promise<void>;
  onArchive: (t: Thread, archived: boolean) => Promise<void>;
  onDelete: (t: Thread) => Promise<void>;
  userLabel: string;
  onSignOut: () => void;
  onClose: () => void;
}

function ThreadItem({ t, current, props }: { t: Thread; current: boolean; props: Props }) {
  const [editing, setEditing] = useState(false);
  const [title, setTitle] = useState(t.title ?? '');
  const [error, setError] = useState<string | null>(null);
  const label = t.title || 'Untitled conversation';

  const act = async (fn: () => Promise<void>) => {
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(e instanceof Error ? e.message : 'That did not work.');
    }
  };

  if (editing) {
    return (
      <li className="thread editing">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void act(async () => {
              await props.onRename(t, title.trim());
              setEditing(false);
            });
          }}
        >
          <label className="visually-hidden" htmlFor={`rename-${t.id}`}>
            New title for {label}
          </label>
          <input
            id={`rename-${t.id}`}
            autoFocus
            value={title}
            maxLength={200}
            onChange={(e) => setTitle(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Escape') setEditing(false);
            }}
          />
          <button type="submit" className="small primary">
            Save
          </button>
          <button type="button" className="small" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </form>
        {error && <p className="field-error">{error}</p>}
      </li>
    );
  }

  return (
    <li className={`thread${current ? ' current' : ''}`} data-testid="thread-item">
      <button type="button" className="thread-open" aria-current={current ? 'page' : undefined} onClick={() => props.onSelect(t.id)}>
        <span className="thread-title">{label}</span>
        {t.last_run_status === 'running' || t.last_run_status === 'queued' ? <span className="dot running" aria-label="working" /> : null}
      </button>
      <div className="thread-actions">
        <button
          type="button"
          className="icon small"
          aria-label={`Rename ${label}`}
          title="Rename"
          onClick={() => {
            setTitle(t.title ?? '');
            setEditing(true);
          }}
        >
          ✎
        </button>
        <button
          type="button"
          className="icon small"
          aria-label={`${t.archived ? 'Unarchive' : 'Archive'} ${label}`}
          title={t.archived ? 'Unarchive' : 'Archive'}
          onClick={() => void act(() => props.onArchive(t, !t.archived))}
        >
          {t.archived ? '↺' : '⤓'}
        </button>
        <button
          type="button"
          className="icon small"
          aria-label={`Delete ${label}`}
          title="Delete"
          onClick={() => {
            if (confirm(`Delete “${label}” and all its messages?`)) void act(() => props.onDelete(t));
          }}
        >
          ✕
        </button>
      </div>
      {error && <p className="field-error">{error}</p>}
    </li>
  );
}

export function Sidebar(props: Props) {
  return (
    <>
      <nav className="sidebar" aria-label="Conversations">
        <div className="sidebar-head">
          <span className="brand">Apex</span>
          <button type="button" className="primary" onClick={props.onNew}>
            + New chat
          </button>
        </div>
        <div className="tabs" role="group" aria-label="Which conversations">
          <button type="button" className={!props.showArchived ? 'tab on' : 'tab'} aria-pressed={!props.showArchived} onClick={() => props.onShowArchived(false)}>
            Active
          </button>
          <button type="button" className={props.showArchived ? 'tab on' : 'tab'} aria-pressed={props.showArchived} onClick={() => props.onShowArchived(true)}>
            Archived
          </button>
        </div>
        <ul className="threads" data-testid="threads">
          {props.threads.length === 0 && <li className="muted small pad">{props.showArchived ? 'No archived conversations.' : 'No conversations yet.'}</li>}
          {props.threads.map((t) => (
            <ThreadItem key={t.id} t={t} current={t.id === props.currentId} props={props} />
          ))}
        </ul>
        <div className="sidebar-foot">
          <span className="user-label" title={props.userLabel}>
            {props.userLabel}
          </span>
          <ThemeToggle />
          <button type="button" onClick={props.onSignOut}>
            Sign out
          </button>
        </div>
      </nav>
      <div className="scrim" onClick={props.onClose} aria-hidden="true" />
    </>
  );
}
