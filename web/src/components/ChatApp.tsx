import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { BootConfig } from '../App';
import * as chat from '../api/chat';
import { limitsOf } from '../api/limits';
import { ApiError, session, signOut } from '../api/session';
import type { Dataset, Message } from '../api/types';
import { useRunStream } from '../hooks/useRunStream';
import { useUsageAlerts } from '../hooks/useLiveUsage';
import { useThreads } from '../hooks/useThreads';
import type { ConnectionStatus } from '../realtime/socket';
import { activeRunOfThread, runsOfThread } from '../state/runs';
import { turnsOf } from '../state/turns';
import { AlertToasts } from './AlertToasts';
import { Composer } from './Composer';
import { DatasetPanel } from './DatasetPanel';
import { MessageList } from './MessageList';
import { Sidebar } from './Sidebar';
import { UsageSettings } from './UsageSettings';

const DRAFT_KEY = 'apex.draft';
/** Attachment key of the conversation not started yet: the first message moves it to the new thread. */
const NEW_THREAD = '';

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

export function ChatApp({ config }: { config: BootConfig }) {
  const [showArchived, setShowArchived] = useState(false);
  const [draft, setDraft] = useState(() => localStorage.getItem(DRAFT_KEY) ?? '');
  const [attachments, setAttachments] = useState<Record<string, Dataset>>({});
  const [panel, setPanel] = useState(false);
  const [settings, setSettings] = useState(false);
  const settingsButton = useRef<HTMLButtonElement>(null);
  const alerts = useUsageAlerts();
  const [banner, setBanner] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const [sidebarOpen, setSidebarOpen] = useState(false);
  const composerRef = useRef<HTMLTextAreaElement>(null);
  const limits = useMemo(() => limitsOf(config.app), [config.app]);

  const live = useRunStream(config, {
    onThread: (t) => threads.upsertThread(t),
    onRunEnded: (threadId) => {
      void threads.loadThread(threadId);
      void threads.loadThreads();
    },
    onError: setBanner,
    onLost: () => {
      void threads.reload();
      void live.refreshOpenRuns();
    },
    onUsageAlert: alerts.receive,
  });
  const threads = useThreads({ refreshRuns: live.refreshRuns, onBanner: setBanner });
  const { currentId } = threads;

  const attachKey = currentId ?? NEW_THREAD;
  const attached = attachments[attachKey] ?? null;
  const attach = useCallback((key: string, d: Dataset | null) => {
    setAttachments((a) => {
      const { [key]: _old, ...rest } = a;
      return d ? { ...rest, [key]: d } : rest;
    });
  }, []);

  const select = (id: string | null) => {
    threads.select(id);
    setSidebarOpen(false);
    setBanner(null);
  };

  useEffect(() => {
    localStorage.setItem(DRAFT_KEY, draft);
  }, [draft]);

  const threadMessages = useMemo(() => (currentId ? (threads.messages[currentId] ?? []) : []), [threads.messages, currentId]);
  const threadRuns = useMemo(() => (currentId ? runsOfThread(live.stream.runs, currentId) : []), [live.stream.runs, currentId]);
  const turns = useMemo(() => turnsOf(threadMessages, threadRuns), [threadMessages, threadRuns]);
  const activeRun = currentId ? activeRunOfThread(live.stream.runs, currentId) : undefined;
  const currentThread = [...threads.threads, ...threads.archived].find((t) => t.id === currentId);

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
        threads.upsertThread(t);
        id = t.id;
        // The file uploaded before the conversation existed belongs to the one it starts.
        if (dataset) {
          attach(NEW_THREAD, null);
          attach(t.id, dataset);
        }
        select(id);
      }
      const res = await chat.postMessage(id, text, dataset?.id);
      const tid = id;
      const msg: Message = { ...res.message, run_id: res.message.run_id ?? res.run.id };
      threads.addMessage(tid, msg);
      live.started({ ...res.run, thread_id: res.run.thread_id ?? tid });
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

  async function stop() {
    if (!activeRun) return;
    try {
      await chat.cancelRun(activeRun.id);
    } catch (e) {
      // Over REST first; the WebSocket command is the fallback when the API call fails.
      if (!live.command({ type: 'stop_agent', payload: { run_id: activeRun.id } })) {
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
        threads={showArchived ? threads.archived : threads.threads}
        showArchived={showArchived}
        onShowArchived={setShowArchived}
        currentId={currentId}
        onSelect={(id) => select(id)}
        onNew={() => {
          select(null);
          composerRef.current?.focus();
        }}
        onRename={async (t, title) => threads.upsertThread(await chat.updateThread(t.id, { title }))}
        onArchive={async (t, value) => {
          threads.upsertThread(await chat.updateThread(t.id, { archived: value }));
          if (value && t.id === currentId) select(null);
        }}
        onDelete={async (t) => {
          await chat.deleteThread(t.id);
          threads.removeThread(t.id);
          attach(t.id, null);
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
          <button
            type="button"
            className="small"
            aria-expanded={settings}
            aria-controls="usage-settings"
            data-testid="open-usage-settings"
            ref={settingsButton}
            onClick={() => {
              if (!settings) void alerts.reload();
              setSettings(!settings);
            }}
          >
            Live usage
          </button>
          <span className={`conn ${live.status}`} role="status" aria-live="polite" data-testid="connection-status" data-status={live.status}>
            <span className="dot" aria-hidden="true" />
            {statusLabel[live.status]}
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
        <AlertToasts
          toasts={alerts.toasts}
          onDismiss={alerts.dismiss}
          onOpen={() => {
            void alerts.reload();
            setSettings(true);
          }}
        />
        {settings && (
          <div id="usage-settings">
            <UsageSettings
              origin={location.origin}
              alerts={alerts.alerts}
              alertsError={alerts.error}
              onClose={() => {
                setSettings(false);
                settingsButton.current?.focus();
              }}
            />
          </div>
        )}
        <MessageList turns={turns} onAsk={(q) => void send(q)} askDisabled={sending || !!activeRun} />
        {panel && <DatasetPanel attachKey={attachKey} maxUploadBytes={limits.maxUploadBytes} onAttach={attach} onClose={() => setPanel(false)} />}
        <Composer
          draft={draft}
          onDraft={setDraft}
          onSend={() => void send()}
          onStop={() => void stop()}
          running={!!activeRun}
          sending={sending}
          attached={attached}
          onRemoveAttached={() => {
            attach(attachKey, null);
            composerRef.current?.focus();
          }}
          uploadOpen={panel}
          onToggleUpload={() => setPanel(!panel)}
          maxChars={limits.maxMessageChars}
          inputRef={composerRef}
        />
      </main>
    </div>
  );
}
