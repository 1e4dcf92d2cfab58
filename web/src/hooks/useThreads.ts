// Threads and their messages: the sidebar lists, the message cache per thread, and the selection
// routed as /threads/{id} (back and forward follow it).

import { useCallback, useEffect, useState } from 'react';
import * as chat from '../api/chat';
import { ApiError } from '../api/session';
import type { Message, Thread } from '../api/types';

function threadIdFromPath(): string | null {
  const m = /^\/threads\/([^/]+)$/.exec(location.pathname);
  return m ? decodeURIComponent(m[1]) : null;
}

export function byNewest(a: Thread, b: Thread) {
  return (b.updated_at ?? b.created_at).localeCompare(a.updated_at ?? a.created_at) || b.id.localeCompare(a.id);
}

const fetchLists = (): Promise<[Thread[], Thread[]]> => Promise.all([chat.listThreads(false), chat.listThreads(true)]);

export interface ThreadsOptions {
  /** Reads the runs a thread's messages reference (the run store lives elsewhere). */
  refreshRuns: (runIds: string[], threadId: string) => Promise<void>;
  onBanner: (text: string | null) => void;
}

export function useThreads({ refreshRuns, onBanner }: ThreadsOptions) {
  const [threads, setThreads] = useState<Thread[]>([]);
  const [archived, setArchived] = useState<Thread[]>([]);
  const [currentId, setCurrentId] = useState<string | null>(threadIdFromPath);
  const [messages, setMessages] = useState<Record<string, Message[]>>({});

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

  const removeThread = useCallback((id: string) => {
    setThreads((l) => l.filter((x) => x.id !== id));
    setArchived((l) => l.filter((x) => x.id !== id));
    setMessages((m) => {
      const { [id]: _gone, ...rest } = m;
      return rest;
    });
  }, []);

  const applyLists = useCallback(([active, old]: [Thread[], Thread[]]) => {
    setThreads(active.filter((t) => !t.archived).sort(byNewest));
    setArchived(old.filter((t) => t.archived).sort(byNewest));
  }, []);

  const listsFailed = useCallback(
    (e: unknown) => {
      if (e instanceof ApiError && e.status === 401) return;
      onBanner('Could not load your conversations.');
    },
    [onBanner],
  );

  const loadThreads = useCallback(() => fetchLists().then(applyLists, listsFailed), [applyLists, listsFailed]);

  const applyThread = useCallback(
    (id: string, msgs: Message[]) => {
      setMessages((m) => ({ ...m, [id]: msgs }));
      return refreshRuns([...new Set(msgs.map((m) => m.run_id).filter((x): x is string => !!x))], id);
    },
    [refreshRuns],
  );

  const threadFailed = useCallback(
    (id: string, e: unknown) => {
      if (e instanceof ApiError && e.status === 404) {
        onBanner('That conversation does not exist or was deleted.');
        setCurrentId((c) => (c === id ? null : c));
      }
    },
    [onBanner],
  );

  /** Messages and the runs they reference, read over REST and merged with the live stream. */
  const loadThread = useCallback(
    (id: string) =>
      chat.listMessages(id).then(
        (msgs) => applyThread(id, msgs),
        (e) => threadFailed(id, e),
      ),
    [applyThread, threadFailed],
  );

  /** A message just sent: shown at once, before the REST read-back. */
  const addMessage = useCallback((threadId: string, msg: Message) => {
    setMessages((m) => ({ ...m, [threadId]: [...(m[threadId] ?? []).filter((x) => x.id !== msg.id), msg] }));
  }, []);

  const select = useCallback((id: string | null, push = true) => {
    setCurrentId(id);
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
    let live = true;
    fetchLists().then(
      (lists) => live && applyLists(lists),
      (e) => live && listsFailed(e),
    );
    return () => {
      live = false;
    };
  }, [applyLists, listsFailed]);

  // The selected thread, read when it is selected; a reply for a thread no longer selected is still
  // cached (the user may come back), so only a failure is dropped once the selection moved on.
  useEffect(() => {
    if (!currentId) return;
    let live = true;
    chat.listMessages(currentId).then(
      (msgs) => void applyThread(currentId, msgs),
      (e) => live && threadFailed(currentId, e),
    );
    return () => {
      live = false;
    };
  }, [currentId, applyThread, threadFailed]);

  /** Everything again over REST (after a resume the server could not replay). */
  const reload = useCallback(async () => {
    await loadThreads();
    if (currentId) await loadThread(currentId);
  }, [currentId, loadThread, loadThreads]);

  return { threads, archived, currentId, messages, select, upsertThread, removeThread, loadThreads, loadThread, addMessage, reload };
}
