import { useEffect, useState, useSyncExternalStore } from 'react';
import { publicJson, session } from './api/session';
import type { AuthConfig, PublicConfig, TokenPair } from './api/types';
import { AuthScreen } from './components/AuthScreen';
import { ChatApp } from './components/ChatApp';

export interface BootConfig {
  app: PublicConfig;
  auth: AuthConfig;
}

const defaultAuth: AuthConfig = { providers: ['password'], registration_open: true, dev_login: false };

function useSession() {
  return useSyncExternalStore(
    (cb) => session.subscribe(cb),
    () => session.value,
  );
}

/** Origin of the auth service: '' when it is this origin (the usual single-process setup). */
function authBaseOf(cfg: PublicConfig): string {
  if (!cfg.auth_url) return '';
  try {
    const u = new URL(cfg.auth_url, location.href);
    return u.origin === location.origin ? '' : u.origin;
  } catch {
    return '';
  }
}

export function App() {
  const [boot, setBoot] = useState<BootConfig | null>(null);
  const [bootError, setBootError] = useState<string | null>(null);
  const current = useSession();

  useEffect(() => {
    let cancelled = false;
    (async () => {
      const app = await publicJson<PublicConfig>('GET', '/api/config/public').catch(() => ({}) as PublicConfig);
      session.authBase = authBaseOf(app);
      const auth = await publicJson<AuthConfig>('GET', `${session.authBase}/auth/config`).catch(() => defaultAuth);
      // A provider sign-in comes back with a one-time code in the URL fragment (docs/spec/auth-api.md).
      const frag = new URLSearchParams(location.hash.replace(/^#/, ''));
      const code = frag.get('code');
      if (code) {
        history.replaceState(null, '', location.pathname + location.search);
        try {
          const pair = await publicJson<TokenPair>('POST', `${session.authBase}/auth/exchange`, { code });
          session.adopt(pair);
        } catch {
          if (!cancelled) setBootError('The sign-in link has expired. Please sign in again.');
        }
      }
      if (!cancelled) {
        document.title = app.app_name || 'Apex';
        setBoot({ app, auth: { ...defaultAuth, ...auth } });
      }
    })();
    return () => {
      cancelled = true;
    };
  }, []);

  // A page restored from the back/forward cache must not show a signed-out user's chat.
  useEffect(() => {
    const onShow = (e: PageTransitionEvent) => {
      if (e.persisted && !session.value) location.reload();
    };
    addEventListener('pageshow', onShow);
    return () => removeEventListener('pageshow', onShow);
  }, []);

  if (!boot) {
    return (
      <div className="boot" role="status" aria-live="polite">
        Loading Apex…
      </div>
    );
  }
  if (!current) return <AuthScreen config={boot} notice={bootError} />;
  return <ChatApp config={boot} />;
}
