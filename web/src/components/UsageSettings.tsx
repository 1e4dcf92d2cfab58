import { useEffect, useId, useRef, useState } from 'react';
import type { Budget, BudgetInput, CreatedIngestKey, Dataset, IngestKey, UsageAlert } from '../api/types';
import * as usage from '../api/usage';
import { errorText, useIngestKeys, type IngestKeys } from '../hooks/useLiveUsage';
import { budgetInput, draftOf, keyNameError, KEY_NAME_MAX, otlpEndpoint, otlpEnvironment, type BudgetDraft, type BudgetErrors } from '../usage/setup';
import { AlertList } from './AlertToasts';
import { CopyButton } from './CopyButton';

const day = (iso?: string | null) => (iso ? new Date(iso).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' }) : '—');

/**
 * Live usage settings: ingest keys (created, shown once, revoked), a budget per live dataset, and
 * the recent alerts. Opened from the chat header; Escape or the close button returns there.
 */
export function UsageSettings({ origin, alerts, alertsError, onClose }: { origin: string; alerts: UsageAlert[]; alertsError?: string | null; onClose: () => void }) {
  const id = useId();
  const heading = useRef<HTMLHeadingElement>(null);
  const keys = useIngestKeys();
  useEffect(() => heading.current?.focus(), []);
  return (
    <section
      className="usage-settings"
      aria-labelledby={`${id}-h`}
      data-testid="usage-settings"
      onKeyDown={(e) => {
        if (e.key === 'Escape') onClose();
      }}
    >
      <header>
        <h2 id={`${id}-h`} ref={heading} tabIndex={-1}>
          Live usage
        </h2>
        <button type="button" className="icon" onClick={onClose} aria-label="Close live usage settings">
          ✕
        </button>
      </header>
      <IngestKeysSection origin={origin} keys={keys} />
      {/* A new key brings a new live dataset: the budgets list is read again when the keys change. */}
      <BudgetsSection keyCount={keys.keys?.length ?? 0} />
      <section aria-labelledby={`${id}-alerts`}>
        <h3 id={`${id}-alerts`}>Recent alerts</h3>
        {alertsError && (
          <p className="form-error" role="alert">
            {alertsError}
          </p>
        )}
        <AlertList alerts={alerts} />
      </section>
    </section>
  );
}

function IngestKeysSection({ origin, keys }: { origin: string; keys: IngestKeys }) {
  const id = useId();
  const [name, setName] = useState('');
  const [nameError, setNameError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit() {
    const problem = keyNameError(name);
    setNameError(problem);
    if (problem) return;
    setBusy(true);
    if (await keys.create(name.trim())) setName('');
    setBusy(false);
  }

  return (
    <section aria-labelledby={`${id}-h`}>
      <h3 id={`${id}-h`}>Ingest keys</h3>
      <p className="muted small">
        An app sends its OpenTelemetry spans (GenAI conventions) to Apex with an ingest key; each key feeds a live dataset the agent can analyse.
      </p>
      <form
        className="inline-form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <label htmlFor={`${id}-name`}>Key name</label>
        <input
          id={`${id}-name`}
          value={name}
          maxLength={KEY_NAME_MAX}
          placeholder="prod-app"
          aria-invalid={nameError ? true : undefined}
          aria-describedby={nameError ? `${id}-name-error` : undefined}
          onChange={(e) => setName(e.target.value)}
        />
        <button type="submit" className="primary" disabled={busy}>
          Create key
        </button>
        {nameError && (
          <p id={`${id}-name-error`} className="field-error" role="alert">
            {nameError}
          </p>
        )}
      </form>
      {keys.error && (
        <p className="form-error" role="alert">
          {keys.error}
        </p>
      )}
      {keys.created && <NewKeyNotice created={keys.created} origin={origin} onDone={keys.acknowledge} />}
      {keys.keys === null ? <p className="muted small">Loading keys…</p> : <IngestKeyTable keys={keys.keys} onRevoke={keys.revoke} />}
    </section>
  );
}

/** The new key, shown this once, with what to configure in the app that sends spans. */
export function NewKeyNotice({ created, origin, onDone }: { created: CreatedIngestKey; origin: string; onDone: () => void }) {
  const id = useId();
  const done = useRef<HTMLButtonElement>(null);
  useEffect(() => done.current?.focus(), []);
  const env = otlpEnvironment(origin, created.key);
  return (
    <div className="new-key" role="group" aria-labelledby={`${id}-h`} data-testid="new-key">
      <h4 id={`${id}-h`}>Key “{created.name}” created</h4>
      <p>
        <b>Copy it now: Apex keeps only its hash and cannot show it again.</b>
      </p>
      <div className="copy-row">
        <label htmlFor={`${id}-key`}>Ingest key</label>
        <input id={`${id}-key`} readOnly value={created.key} data-testid="new-key-value" onFocus={(e) => e.target.select()} />
        <CopyButton text={created.key} label="Copy the ingest key" />
      </div>
      <p>
        OTLP/HTTP endpoint: <code data-testid="otlp-endpoint">{otlpEndpoint(origin)}</code> (protobuf or JSON)
      </p>
      <p id={`${id}-env`}>Environment of the app that exports the spans:</p>
      <pre aria-labelledby={`${id}-env`} data-testid="otlp-env">{env}</pre>
      <CopyButton text={env} label="Copy the environment lines" />
      <p>
        <button type="button" ref={done} onClick={onDone}>
          I have copied the key
        </button>
      </p>
    </div>
  );
}

/** The user's keys; revoking asks for a confirmation in place. */
export function IngestKeyTable({ keys, onRevoke }: { keys: IngestKey[]; onRevoke: (id: string) => Promise<boolean> }) {
  const [confirming, setConfirming] = useState<string | null>(null);
  const confirmButton = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (confirming) confirmButton.current?.focus();
  }, [confirming]);
  if (keys.length === 0) return <p className="muted small">No ingest keys yet.</p>;
  return (
    <table className="keys" data-testid="ingest-keys">
      <caption className="visually-hidden">Ingest keys</caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Key</th>
          <th scope="col">Created</th>
          <th scope="col">Last used</th>
          <th scope="col">Status</th>
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {keys.map((k) => (
          <tr key={k.id} data-testid="ingest-key">
            <th scope="row">{k.name}</th>
            <td>
              <code>{k.key_prefix}…</code>
            </td>
            <td>{day(k.created_at)}</td>
            <td>{k.last_used_at ? day(k.last_used_at) : 'never'}</td>
            <td>{k.revoked_at ? `revoked ${day(k.revoked_at)}` : 'active'}</td>
            <td>
              {k.revoked_at ? null : confirming === k.id ? (
                <span role="group" aria-label={`Confirm revoking ${k.name}`} className="confirm">
                  <span className="small">Apps sending with it get 401 from now on. </span>
                  <button
                    type="button"
                    className="small danger"
                    ref={confirmButton}
                    onClick={() => {
                      setConfirming(null);
                      void onRevoke(k.id);
                    }}
                  >
                    Revoke {k.name}
                  </button>
                  <button type="button" className="small" onClick={() => setConfirming(null)}>
                    Cancel
                  </button>
                </span>
              ) : (
                <button type="button" className="small" aria-label={`Revoke ${k.name}`} onClick={() => setConfirming(k.id)}>
                  Revoke
                </button>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function BudgetsSection({ keyCount }: { keyCount: number }) {
  const id = useId();
  const [datasets, setDatasets] = useState<Dataset[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    usage.listLiveDatasets().then(
      (list) => live && setDatasets(list),
      (e: unknown) => {
        if (!live) return;
        setDatasets([]);
        setError(errorText(e, 'The live datasets could not be loaded.'));
      },
    );
    return () => {
      live = false;
    };
  }, [keyCount]);
  return (
    <section aria-labelledby={`${id}-h`}>
      <h3 id={`${id}-h`}>Budgets</h3>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {datasets === null ? (
        <p className="muted small">Loading live datasets…</p>
      ) : datasets.length === 0 ? (
        <p className="muted small">No live datasets yet: create an ingest key and send spans with it.</p>
      ) : (
        <ul className="budgets">
          {datasets.map((d) => (
            <li key={d.id}>
              <BudgetEditor dataset={d} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** One live dataset's budget: read when opened, saved with PUT, removed with DELETE. */
function BudgetEditor({ dataset }: { dataset: Dataset }) {
  const id = useId();
  const [open, setOpen] = useState(false);
  const [budget, setBudget] = useState<Budget | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);

  useEffect(() => {
    if (!open || budget !== undefined) return;
    let live = true;
    usage.getBudget(dataset.id).then(
      (b) => live && setBudget(b),
      (e: unknown) => live && setError(errorText(e, 'The budget could not be loaded.')),
    );
    return () => {
      live = false;
    };
  }, [open, budget, dataset.id]);

  async function act(fn: () => Promise<void>) {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(errorText(e, 'That did not work.'));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="budget" data-testid="budget">
      <button type="button" aria-expanded={open} aria-controls={`${id}-form`} onClick={() => setOpen(!open)}>
        Budget for {dataset.name}
        {budget ? ` ($${budget.monthly_usd.toLocaleString('en-US')}/month)` : ''}
      </button>
      <div id={`${id}-form`} hidden={!open}>
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        {secret && (
          <div className="new-key" role="group" aria-label="Webhook secret">
            <p>
              <b>Webhook signing secret, shown once:</b> Apex signs each webhook with it (<code>X-Apex-Signature: sha256=HMAC(secret, timestamp.body)</code>).
            </p>
            <code data-testid="webhook-secret">{secret}</code> <CopyButton text={secret} label="Copy the webhook secret" />
            <button type="button" className="small" onClick={() => setSecret(null)}>
              Done
            </button>
          </div>
        )}
        {open && budget === undefined && !error && <p className="muted small">Loading…</p>}
        {open && budget !== undefined && (
          <BudgetForm
            key={budget?.monthly_usd ?? 'none'}
            datasetName={dataset.name}
            initial={draftOf(budget)}
            busy={busy}
            hasBudget={budget !== null}
            onSave={(input) =>
              act(async () => {
                const saved = await usage.putBudget(dataset.id, input);
                if (saved.webhook_secret) setSecret(saved.webhook_secret);
                const { webhook_secret: _once, ...kept } = saved;
                setBudget(kept);
              })
            }
            onClear={() =>
              act(async () => {
                await usage.deleteBudget(dataset.id);
                setBudget(null);
              })
            }
          />
        )}
      </div>
    </div>
  );
}

/** The budget form; checks what it can before sending (the server checks again). */
export function BudgetForm({
  datasetName,
  initial,
  busy,
  hasBudget,
  onSave,
  onClear,
}: {
  datasetName: string;
  initial: BudgetDraft;
  busy: boolean;
  hasBudget: boolean;
  onSave: (input: BudgetInput) => void;
  onClear: () => void;
}) {
  const id = useId();
  const [draft, setDraft] = useState<BudgetDraft>(initial);
  const [errors, setErrors] = useState<BudgetErrors>({});
  const set = (patch: Partial<BudgetDraft>) => setDraft((d) => ({ ...d, ...patch }));
  const described = (field: keyof BudgetErrors, hint?: string) => [errors[field] ? `${id}-${field}-error` : '', hint ?? ''].filter(Boolean).join(' ') || undefined;
  const fieldError = (field: keyof BudgetErrors) =>
    errors[field] ? (
      <p id={`${id}-${field}-error`} className="field-error" role="alert">
        {errors[field]}
      </p>
    ) : null;

  return (
    <form
      className="budget-form"
      noValidate
      aria-label={`Budget for ${datasetName}`}
      onSubmit={(e) => {
        e.preventDefault();
        const result = budgetInput(draft);
        if ('errors' in result) {
          setErrors(result.errors);
          return;
        }
        setErrors({});
        onSave(result.input);
      }}
    >
      <label htmlFor={`${id}-monthly`}>Monthly budget (USD)</label>
      <input
        id={`${id}-monthly`}
        inputMode="decimal"
        value={draft.monthly}
        aria-invalid={errors.monthly ? true : undefined}
        aria-describedby={described('monthly')}
        onChange={(e) => set({ monthly: e.target.value })}
      />
      {fieldError('monthly')}

      <fieldset>
        <legend>Feature budgets (optional)</legend>
        {draft.features.map((f, i) => (
          <div className="feature-row" key={i}>
            <label htmlFor={`${id}-f${i}-name`}>Feature</label>
            <input id={`${id}-f${i}-name`} value={f.name} onChange={(e) => set({ features: draft.features.map((x, j) => (j === i ? { ...x, name: e.target.value } : x)) })} />
            <label htmlFor={`${id}-f${i}-usd`}>Monthly USD</label>
            <input
              id={`${id}-f${i}-usd`}
              inputMode="decimal"
              value={f.usd}
              aria-describedby={described('features')}
              onChange={(e) => set({ features: draft.features.map((x, j) => (j === i ? { ...x, usd: e.target.value } : x)) })}
            />
            <button
              type="button"
              className="small"
              aria-label={`Remove the budget of ${f.name || `feature ${i + 1}`}`}
              onClick={() => set({ features: draft.features.filter((_, j) => j !== i) })}
            >
              Remove
            </button>
          </div>
        ))}
        <button type="button" className="small" onClick={() => set({ features: [...draft.features, { name: '', usd: '' }] })}>
          Add a feature budget
        </button>
        {fieldError('features')}
      </fieldset>

      <label htmlFor={`${id}-webhook`}>Webhook URL (optional)</label>
      <input
        id={`${id}-webhook`}
        type="url"
        value={draft.webhookUrl}
        placeholder="https://hooks.example.com/apex"
        aria-invalid={errors.webhookUrl ? true : undefined}
        aria-describedby={described('webhookUrl')}
        onChange={(e) => set({ webhookUrl: e.target.value })}
      />
      {fieldError('webhookUrl')}

      <label htmlFor={`${id}-spike`}>Daily spike factor (optional, default 3)</label>
      <input
        id={`${id}-spike`}
        inputMode="decimal"
        value={draft.spikeFactor}
        aria-invalid={errors.spikeFactor ? true : undefined}
        aria-describedby={described('spikeFactor', `${id}-spike-hint`)}
        onChange={(e) => set({ spikeFactor: e.target.value })}
      />
      <p id={`${id}-spike-hint`} className="muted small">
        A day that costs this many times its recent days raises an alert.
      </p>
      {fieldError('spikeFactor')}

      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          Save budget
        </button>
        {hasBudget && (
          <button type="button" disabled={busy} onClick={onClear}>
            Remove budget
          </button>
        )}
      </div>
    </form>
  );
}
