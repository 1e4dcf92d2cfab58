import { useEffect, useId, useState, type FormEvent } from 'react';
import type { BootConfig } from '../App';
import { ApiError, publicJson, session } from '../api/session';
import type { TokenPair } from '../api/types';
import { ThemeToggle } from './ThemeToggle';

type Mode = 'signin' | 'register';

const providerLabels: Record<string, string> = { google: 'Google', github: 'GitHub', microsoft: 'Microsoft', oidc: 'single sign-on' };

/** Reasons the server's provider callback may send back in the fragment (#error=...), in words. */
const providerErrors: Record<string, string> = {
  email_unverified: 'Your provider has not verified your email address, so it cannot sign you in here.',
  registration_closed: 'There is no account with this email, and registration is closed.',
  access_denied: 'The sign-in was cancelled.',
  provider_unavailable: 'The sign-in provider did not answer. Please try again later.',
};

/** A provider sign-in that failed comes back with #error=<reason> (cleared once shown). */
function providerError(): string | null {
  const reason = new URLSearchParams(location.hash.replace(/^#/, '')).get('error');
  if (!reason) return null;
  return providerErrors[reason] ?? 'The sign-in with your provider failed. Please try again.';
}

export function AuthScreen({ config, notice }: { config: BootConfig; notice: string | null }) {
  const [mode, setMode] = useState<Mode>('signin');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [name, setName] = useState('');
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(providerError);
  useEffect(() => {
    if (providerError()) history.replaceState(null, '', location.pathname + location.search);
  }, []);
  const [busy, setBusy] = useState(false);
  const ids = { email: useId(), password: useId(), name: useId(), form: useId() };
  const base = session.authBase;
  const providers = config.auth.providers.filter((p) => p !== 'password');
  // Display names of the configured providers (`provider_names` of /auth/config).
  const providerNames = (config.auth as { provider_names?: Record<string, string> }).provider_names ?? {};
  const canRegister = config.auth.registration_open;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setFieldErrors({});
    setFormError(null);
    try {
      const body = mode === 'register' ? { email, password, name: name || undefined } : { email, password };
      const pair = await publicJson<TokenPair>('POST', `${base}/auth/${mode === 'register' ? 'register' : 'login'}`, body);
      session.adopt(pair);
    } catch (err) {
      if (err instanceof ApiError) {
        const fields = err.fieldErrors();
        setFieldErrors(fields);
        if (err.status === 409) setFieldErrors({ ...fields, email: err.problem.detail || 'This email is already registered.' });
        else if (err.status === 401) setFormError(err.problem.detail || 'Wrong email or password.');
        else if (err.status === 429) setFormError(err.problem.detail || 'Too many attempts. Please wait and try again.');
        else if (Object.keys(fields).length === 0) setFormError(err.message);
      } else {
        setFormError('The server cannot be reached. Check your connection and try again.');
      }
    } finally {
      setBusy(false);
    }
  }

  async function devLogin() {
    setBusy(true);
    setFormError(null);
    try {
      session.adopt(await publicJson<TokenPair>('POST', `${base}/auth/dev/login`, email ? { email } : {}));
    } catch (err) {
      setFormError(err instanceof Error ? err.message : 'Dev login failed.');
    } finally {
      setBusy(false);
    }
  }

  const field = (key: 'email' | 'password' | 'name') => {
    const msg = fieldErrors[key];
    return msg ? (
      <p className="field-error" id={`${ids[key]}-err`} role="alert">
        {msg}
      </p>
    ) : null;
  };

  return (
    <main className="auth">
      <div className="auth-top">
        <ThemeToggle />
      </div>
      <section className="auth-card" aria-labelledby={ids.form}>
        <h1 id={ids.form}>{mode === 'register' ? `Create your ${config.app.app_name || 'Apex'} account` : `Sign in to ${config.app.app_name || 'Apex'}`}</h1>
        <p className="muted">Find where your AI spend goes and what to change.</p>
        {notice && <p className="form-error">{notice}</p>}
        <form onSubmit={submit} noValidate>
          {mode === 'register' && (
            <div className="field">
              <label htmlFor={ids.name}>Name (optional)</label>
              <input id={ids.name} name="name" autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} aria-invalid={!!fieldErrors.name} aria-describedby={fieldErrors.name ? `${ids.name}-err` : undefined} />
              {field('name')}
            </div>
          )}
          <div className="field">
            <label htmlFor={ids.email}>Email</label>
            <input id={ids.email} name="email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} aria-invalid={!!fieldErrors.email} aria-describedby={fieldErrors.email ? `${ids.email}-err` : undefined} />
            {field('email')}
          </div>
          <div className="field">
            <label htmlFor={ids.password}>Password</label>
            <input id={ids.password} name="password" type="password" autoComplete={mode === 'register' ? 'new-password' : 'current-password'} required value={password} onChange={(e) => setPassword(e.target.value)} aria-invalid={!!fieldErrors.password} aria-describedby={fieldErrors.password ? `${ids.password}-err` : mode === 'register' ? `${ids.password}-hint` : undefined} />
            {mode === 'register' && !fieldErrors.password && (
              <p className="hint" id={`${ids.password}-hint`}>
                At least 10 characters, not a common password.
              </p>
            )}
            {field('password')}
          </div>
          {formError && (
            <p className="form-error" role="alert">
              {formError}
            </p>
          )}
          <button type="submit" className="primary wide" disabled={busy}>
            {mode === 'register' ? 'Create account' : 'Sign in'}
          </button>
        </form>
        {providers.length > 0 && (
          <div className="providers">
            {providers.map((p) => (
              <a key={p} className="button wide" href={`${base}/auth/login?provider=${encodeURIComponent(p)}`}>
                Continue with {providerNames[p] ?? providerLabels[p] ?? p}
              </a>
            ))}
          </div>
        )}
        {config.auth.dev_login && (
          <button type="button" className="wide" onClick={devLogin} disabled={busy}>
            Dev login{email ? ` as ${email}` : ''}
          </button>
        )}
        {(canRegister || mode === 'register') && (
          <p className="switch">
            {mode === 'signin' ? 'New here? ' : 'Already have an account? '}
            <button
              type="button"
              className="link"
              onClick={() => {
                setMode(mode === 'signin' ? 'register' : 'signin');
                setFieldErrors({});
                setFormError(null);
              }}
            >
              {mode === 'signin' ? 'Create an account' : 'Sign in'}
            </button>
          </p>
        )}
      </section>
    </main>
  );
}
