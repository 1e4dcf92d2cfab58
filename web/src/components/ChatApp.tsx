import { useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import type { BootConfig } from '../App';
import * as chat from '../api/chat';
import { limitsOf } from '../api/limits';
import { ApiError, session, signOut } from '../api/session';
import type { Dataset, Envelope, Message, Thread } from '../api/types';
import { RealtimeClient, type ConnectionStatus } from '../realtime/socket';
import {
  activeRunOfThread,
  applyLiveFrame,
  applyRunEvents,
  applyRunSnapshot,
  emptyStream,
  isTerminal,
  runsOfThread,
  setEpoch,
  type RunView,
  type StreamState,
} from '../state/runs';
import { DatasetPanel } from './DatasetPanel';
import { Markdown } from './Markdown';
import { RunBlock } from './RunBlock';
import { Sidebar } from './Sidebar';

const DRAFT_KEY = 'apex.draft';
/** Attachment key of the conversation not started yet: the first message moves it to the new thread. */
const NEW_THREAD = '';

function threadIdFromPath(): string | null {
  const m = /^\/threads\/([^/]+)$/.exec(location.pathname);
  return m ? decodeURIComponent(m[1]) : null;
}

function wsUrl(config: BootConfig): string {
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

function byNewest(a: Thread, b: Thread) {
  return (b.updated_at ?? b.created_at).localeCompare(a.updated_at ?? a.created_at) || b.id.localeCompare(a.id);
}

function titleFrom(text: string): string {
  const line = text.split('\n')[0].trim();
  return line.length > 60 ? `${line.slice(0, 57)}…` : line;
}

const statusLabel: Record<ConnectionStatus, string> = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

/** A turn of the conversation: a message, and the run it started or answered. */
type Turn = { key: string; message?: Message; run?: RunView; stored?: Message };

function turnsOf(messages: Message[], runs: RunView[]): Turn[] {
  const byId = new Map(runs.map((r) => [r.id, r]));
  const answered = new Map<string, Message>();
  for (const m of messages) if (m.role === 'assistant' && m.run_id) answered.set(m.run_id, m);
  const placed = new Set<string>();
  const out: Turn[] = [];
  for (const m of messages) {
    const rid = m.run_id ?? undefined;
    if (m.role === 'user') {
      out.push({ key: m.id, message: m });
      if (rid && byId.has(rid) && !placed.has(rid)) {
        placed.add(rid);
        out.push({ key: rid, run: byId.get(rid), stored: answered.get(rid) });
      }
    } else if (rid && byId.has(rid)) {
      if (!placed.has(rid)) {
        placed.add(rid);
        out.push({ key: rid, run: byId.get(rid), stored: m });
      }
    } else {
      out.push({ key: m.id, stored: m });
    }
  }
  // Runs whose messages are not stored yet (started here a moment ago, or from another tab).
  for (const r of runs) if (!placed.has(r.id)) out.push({ key: r.id, run: r });
  return out;
}

export function ChatApp({ config }: { config: BootConfig }) {
  const [threads, setThreads] = useState<Thread[]>([]);
  const [archived, setArchived] = useState<Thread[]>([]);
  const [showArchived, setShowArchived] = useState(false);
  const [currentId, setCurrentId] = useState<string | null>(threadIdFromPath);
  const [messages, setMessages] = useState<Record<string, Message[]>>({});
  const [stream, setStream] = useState<StreamState>(emptyStream);
  const streamRef = useRef<StreamState>(emptyStream);
  const [status, setStatus] = useState<ConnectionStatus>('connecting');
  const [draft, setDraft] = useState(() => localStorage.getItem(DRAFT_KEY) ?? '');
  const [attachments, setAttachments] = useState<Record<string, Dataset>>({});
  const [panel, setPanel] = useState(false);
  const [banner, setBanner] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const [sidebarOpen, setSidebarOpen] = useState(false);
  const clientRef = useRef<RealtimeClient | null>(null);
  const currentRef = useRef(currentId);
  currentRef.current = currentId;
  const listRef = useRef<HTMLDivElement>(null);
  const composerRef = useRef<HTMLTextAreaElement>(null);
  const limits = useMemo(() => limitsOf(config.app), [config.app]);
  const attachKey = currentId ?? NEW_THREAD;
  const attached = attachments[attachKey] ?? null;
  const attach = useCallback((key: string, d: Dataset | null) => {
    setAttachments((a) => {
      const { [key]: _old, ...rest } = a;
      return d ? { ...rest, [key]: d } : rest;
    });
  }, []);

  /** Stream updates go through a ref first so the socket reads the newest position synchronously. */
  const update = useCallback((fn: (s: StreamState) => StreamState) => {
    const next = fn(streamRef.current);
    if (next !== streamRef.current) {
      streamRef.current = next;
      setStream(next);
    }
  }, []);

  const upsertThread = useCallback((t: Thread) => {
    const put = (list: Thread[]) => [...list.filter((x) => x.id !== t.id), t].sort(byNewest);
    const drop = (list: Thread[]) => list.filter((x) => x.id !== t.id);
    if (t.archived) {
      setArchived(put);
      setThreads(drop);
    } else {
      setThreads(put);
      setArchived(drop);
    }
  }, []);

  const loadThreads = useCallback(async () => {
    try {
      const [active, old] = await Promise.all([chat.listThreads(false), chat.listThreads(true)]);
      setThreads(active.filter((t) => !t.archived).sort(byNewest));
      setArchived(old.filter((t) => t.archived).sort(byNewest));
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      setBanner('Could not load your conversations.');
    }
  }, []);

  /** Messages and the runs they reference, read over REST and merged with the live stream. */
  const loadThread = useCallback(
    async (id: string) => {
      let msgs: Message[];
      try {
        msgs = await chat.listMessages(id);
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) {
          setBanner('That conversation does not exist or was deleted.');
          if (currentRef.current === id) setCurrentId(null);
        }
        return;
      }
      setMessages((m) => ({ ...m, [id]: msgs }));
      const runIds = [...new Set(msgs.map((m) => m.run_id).filter((x): x is string => !!x))];
      await Promise.all(
        runIds.map(async (rid) => {
          const known = streamRef.current.runs[rid];
          if (known?.final && known.events.length > 0 && known.report !== undefined) return;
          const [events, run] = await Promise.all([chat.runEvents(rid).catch(() => [] as Envelope[]), chat.getRun(rid).catch(() => null)]);
          update((s) => {
            let runs = applyRunEvents(s.runs, events.map((e) => ({ ...e, run_id: e.run_id ?? rid, thread_id: e.thread_id ?? id })));
            if (run) runs = applyRunSnapshot(runs, run);
            return runs === s.runs ? s : { ...s, runs };
          });
        }),
      );
    },
    [update],
  );

  // Routing: /threads/{id} selects a thread; back/forward follow it.
  const select = useCallback((id: string | null, push = true) => {
    setCurrentId(id);
    setSidebarOpen(false);
    setBanner(null);
    const path = id ? `/threads/${encodeURIComponent(id)}` : '/';
    if (push && location.pathname !== path) history.pushState(null, '', path);
  }, []);

  useEffect(() => {
    const onPop = () => setCurrentId(threadIdFromPath());
    addEventListener('popstate', onPop);
    if (location.pathname === '/signin') history.replaceState(null, '', '/');
    return () => removeEventListener('popstate', onPop);
  }, []);

  useEffect(() => {
    void loadThreads();
  }, [loadThreads]);

  useEffect(() => {
    if (currentId) void loadThread(currentId);
  }, [currentId, loadThread]);

  // After a drop the server could not replay (recovered:false): state is read again over REST.
  const resync = useCallback(async () => {
    await loadThreads();
    const id = currentRef.current;
    if (id) await loadThread(id);
    const open = Object.values(streamRef.current.runs).filter((r) => !r.final);
    await Promise.all(
      open.map(async (r) => {
        const [events, run] = await Promise.all([chat.runEvents(r.id).catch(() => [] as Envelope[]), chat.getRun(r.id).catch(() => null)]);
        update((s) => {
          let runs = applyRunEvents(s.runs, events);
          if (run) runs = applyRunSnapshot(runs, run);
          return { ...s, runs };
        });
      }),
    );
  }, [loadThread, loadThreads, update]);

  const onFrame = useCallback(
    (f: Envelope) => {
      const p = f.payload ?? {};
      switch (f.type) {
        case 'connection_established':
          update((s) => setEpoch(s, typeof p.epoch === 'string' ? p.epoch : String(p.epoch ?? ''), Number(p.last_seq ?? 0)));
          return;
        case 'resumed':
          if (p.recovered === false) void resync();
          return;
        case 'error':
          if (p.code === 'run_active') setBanner('This conversation is still working on the previous message.');
          else if (p.code !== 'token_expired' && typeof p.message === 'string') setBanner(p.message);
          return;
        case 'thread_created':
        case 'thread_updated': {
          update((s) => applyLiveFrame(s, f));
          const t = p.thread as Thread | undefined;
          if (t && typeof t.id === 'string') upsertThread(t);
          return;
        }
        default: {
          const before = streamRef.current;
          update((s) => applyLiveFrame(s, f));
          const applied = streamRef.current !== before;
          if (applied && isTerminal(f) && f.thread_id) {
            // The answer is stored before the terminal event: read it back, and the new order.
            void loadThread(f.thread_id);
            void loadThreads();
          }
        }
      }
    },
    [loadThread, loadThreads, resync, update, upsertThread],
  );

  // One WebSocket for the signed-in user, resumed after every drop.
  useEffect(() => {
    const client = new RealtimeClient({
      url: () => wsUrl(config),
      token: () => session.accessToken(),
      position: () => ({ epoch: streamRef.current.epoch, lastSeq: streamRef.current.lastSeq }),
      onFrame,
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
    // The socket lives as long as the chat screen; onFrame is stable enough (its deps are stable).
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    localStorage.setItem(DRAFT_KEY, draft);
  }, [draft]);

  const threadMessages = useMemo(() => (currentId ? (messages[currentId] ?? []) : []), [messages, currentId]);
  const threadRuns = useMemo(() => (currentId ? runsOfThread(stream.runs, currentId) : []), [stream.runs, currentId]);
  const turns = useMemo(() => turnsOf(threadMessages, threadRuns), [threadMessages, threadRuns]);
  const activeRun = currentId ? activeRunOfThread(stream.runs, currentId) : undefined;
  const currentThread = [...threads, ...archived].find((t) => t.id === currentId);

  // Keep the newest content in view while the reader is at the bottom.
  const lastAnswerLength = threadRuns.reduce((n, r) => n + r.answer.length + r.timeline.length, 0);
  useEffect(() => {
    const el = listRef.current;
    if (!el) return;
    if (el.scrollHeight - el.scrollTop - el.clientHeight < 200) el.scrollTop = el.scrollHeight;
  }, [turns.length, lastAnswerLength]);

  /** Sends the draft, or a suggested question (which leaves the draft alone). */
  async function send(suggested?: string) {
    const text = (suggested ?? draft).trim();
    if (!text || sending || activeRun) return;
    if (text.length > limits.maxMessageChars) {
      setBanner(`The message is longer than ${limits.maxMessageChars.toLocaleString()} characters.`);
      return;
    }
    const dataset = attachments[attachKey];
    setSending(true);
    setBanner(null);
    try {
      let id = currentId;
      if (!id) {
        const t = await chat.createThread(titleFrom(text));
        upsertThread(t);
        id = t.id;
        // The file uploaded before the conversation existed belongs to the one it starts.
        if (dataset) {
          attach(NEW_THREAD, null);
          attach(t.id, dataset);
        }
        select(id);
      }
      const res = await chat.postMessage(id, text, dataset?.id);
      const msg: Message = { ...res.message, run_id: res.message.run_id ?? res.run.id };
      const tid = id;
      setMessages((m) => ({ ...m, [tid]: [...(m[tid] ?? []).filter((x) => x.id !== msg.id), msg] }));
      update((s) => ({ ...s, runs: applyRunSnapshot(s.runs, { ...res.run, thread_id: res.run.thread_id ?? tid }) }));
      if (suggested === undefined) setDraft('');
      // Sent with this message, the dataset now stays with the thread on the server.
      if (dataset) attach(tid, null);
    } catch (e) {
      if (e instanceof ApiError) {
        if (e.status === 401) return; // session ended: sign-in shows, the draft stays stored
        setBanner(e.status === 409 ? 'This conversation is still working on the previous message.' : e.message);
      } else {
        setBanner('The message could not be sent: the server cannot be reached.');
      }
    } finally {
      setSending(false);
      composerRef.current?.focus();
    }
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void send();
    }
  }

  async function stop() {
    if (!activeRun) return;
    try {
      await chat.cancelRun(activeRun.id);
    } catch (e) {
      // Over REST first; the WebSocket command is the fallback when the API call fails.
      if (!clientRef.current?.send({ type: 'stop_agent', payload: { run_id: activeRun.id } })) {
        setBanner(e instanceof Error ? e.message : 'Could not stop the run.');
      }
    }
  }

  async function onSignOut() {
    await signOut();
    history.pushState(null, '', '/signin');
  }

  const user = session.value?.user;

  return (
    <div className={`app${sidebarOpen ? ' sidebar-open' : ''}`}>
      <Sidebar
        threads={showArchived ? archived : threads}
        showArchived={showArchived}
        onShowArchived={setShowArchived}
        currentId={currentId}
        onSelect={(id) => select(id)}
        onNew={() => {
          select(null);
          composerRef.current?.focus();
        }}
        onRename={async (t, title) => upsertThread(await chat.updateThread(t.id, { title }))}
        onArchive={async (t, value) => {
          upsertThread(await chat.updateThread(t.id, { archived: value }));
          if (value && t.id === currentId) select(null);
        }}
        onDelete={async (t) => {
          await chat.deleteThread(t.id);
          setThreads((l) => l.filter((x) => x.id !== t.id));
          setArchived((l) => l.filter((x) => x.id !== t.id));
          attach(t.id, null);
          setMessages((m) => {
            const { [t.id]: _gone, ...rest } = m;
            return rest;
          });
          if (t.id === currentId) select(null);
        }}
        userLabel={user?.name || user?.email || 'Signed in'}
        onSignOut={onSignOut}
        onClose={() => setSidebarOpen(false)}
      />
      <main className="chat" aria-label="Conversation">
        <header className="chat-head">
          <button type="button" className="icon menu" aria-label="Show conversations" aria-expanded={sidebarOpen} onClick={() => setSidebarOpen(!sidebarOpen)}>
            ☰
          </button>
          <h1 className="chat-title">{currentThread?.title || (currentId ? 'Conversation' : 'New conversation')}</h1>
          <span className={`conn ${status}`} role="status" aria-live="polite" data-testid="connection-status" data-status={status}>
            <span className="dot" aria-hidden="true" />
            {statusLabel[status]}
          </span>
        </header>
        {banner && (
          <div className="banner" role="alert">
            {banner}
            <button type="button" className="icon" aria-label="Dismiss" onClick={() => setBanner(null)}>
              ✕
            </button>
          </div>
        )}
        <div className="messages" ref={listRef} data-testid="messages">
          {turns.length === 0 && (
            <div className="empty">
              <h2>What would you like to optimise?</h2>
              <p className="muted">
                Upload a usage export (CSV or JSON Lines) and ask for a plan, or describe your usage: “We spend $5,000/month on GPT-4 for customer
                support, 2M requests. Help me cut costs by 30%.”
              </p>
            </div>
          )}
          {turns.map((t, i) =>
            t.run ? (
              <RunBlock
                key={t.key}
                run={t.run}
                stored={t.stored}
                onAsk={i === turns.length - 1 ? (q) => void send(q) : undefined}
                askDisabled={sending || !!activeRun}
              />
            ) : t.message ? (
              <div key={t.key} className="bubble user" data-testid="user-message">
                <Markdown text={t.message.content} />
              </div>
            ) : t.stored ? (
              <div key={t.key} className="bubble assistant">
                <Markdown text={t.stored.content} />
              </div>
            ) : null,
          )}
        </div>
        {panel && (
          <DatasetPanel attachKey={attachKey} maxUploadBytes={limits.maxUploadBytes} onAttach={attach} onClose={() => setPanel(false)} />
        )}
        <form
          className="composer"
          onSubmit={(e) => {
            e.preventDefault();
            void send();
          }}
        >
          {attached && (
            <div className="chips" role="group" aria-label="Attached usage data">
              <span className="chip" data-testid="attached-dataset" data-dataset-id={attached.id}>
                <span aria-hidden="true">▤</span>
                <span className="chip-text">
                  {attached.name} · {(attached.calls ?? attached.rows).toLocaleString()} {attached.calls !== undefined ? 'calls' : 'rows'}
                </span>
                <button
                  type="button"
                  className="chip-remove"
                  onClick={() => {
                    attach(attachKey, null);
                    composerRef.current?.focus();
                  }}
                  aria-label={`Remove ${attached.name}`}
                  title={`Remove ${attached.name}`}
                >
                  ✕
                </button>
              </span>
            </div>
          )}
          <div className="composer-row">
            <button type="button" className="icon" onClick={() => setPanel(!panel)} aria-label="Upload usage data" aria-expanded={panel} title="Upload usage data">
              ⬆
            </button>
            <label htmlFor="composer-input" className="visually-hidden">
              Message
            </label>
            <textarea
              id="composer-input"
              ref={composerRef}
              rows={2}
              value={draft}
              placeholder="Ask about your AI costs…"
              aria-describedby="composer-hint"
              onChange={(e) => setDraft(e.target.value)}
              onKeyDown={onKeyDown}
              maxLength={limits.maxMessageChars}
            />
            {activeRun ? (
              <button type="button" className="danger" onClick={stop}>
                Stop
              </button>
            ) : (
              <button type="submit" className="primary" disabled={sending || !draft.trim()}>
                Send
              </button>
            )}
          </div>
          <p id="composer-hint" className="hint composer-hint">
            Enter sends · Shift+Enter adds a line
          </p>
        </form>
      </main>
    </div>
  );
}
