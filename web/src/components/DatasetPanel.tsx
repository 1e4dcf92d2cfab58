import { useId, useRef, useState, type DragEvent } from 'react';
import { ApiError, readProblem, session } from '../api/session';
import type { Dataset } from '../api/types';

const ACCEPT = '.csv,.jsonl,.ndjson,.json,text/csv,application/x-ndjson';

interface Upload {
  name: string;
  loaded: number;
  total: number;
}

/**
 * POST /api/datasets as multipart with XMLHttpRequest: fetch has no upload progress events in
 * browsers yet, and a usage export can be tens of megabytes.
 */
function uploadOnce(file: File, token: string | null, onProgress: (loaded: number, total: number) => void): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/datasets');
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => resolve({ status: xhr.status, body: xhr.responseText });
    xhr.onerror = () => reject(new Error('The upload failed: the server cannot be reached.'));
    xhr.onabort = () => reject(new Error('The upload was cancelled.'));
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
}

async function upload(file: File, onProgress: (loaded: number, total: number) => void): Promise<Dataset> {
  let res = await uploadOnce(file, await session.accessToken(), onProgress);
  if (res.status === 401 && (await session.refresh().catch(() => null))) {
    res = await uploadOnce(file, await session.accessToken(), onProgress);
  }
  if (res.status >= 200 && res.status < 300) return JSON.parse(res.body) as Dataset;
  throw new ApiError(res.status, await readProblem(new Response(res.body || null, { status: res.status })));
}

function period(d: Dataset): string {
  const f = (s?: string | null) => (s ? new Date(s).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' }) : '?');
  return d.period_start || d.period_end ? `${f(d.period_start)} – ${f(d.period_end)}` : 'unknown period';
}

export function DatasetPanel({
  attached,
  onAttach,
  onClose,
}: {
  attached: Dataset | null;
  onAttach: (d: Dataset | null) => void;
  onClose: () => void;
}) {
  const [uploading, setUploading] = useState<Upload | null>(null);
  const [result, setResult] = useState<Dataset | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [over, setOver] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const id = useId();

  async function take(file: File | undefined) {
    if (!file) return;
    setError(null);
    setResult(null);
    setUploading({ name: file.name, loaded: 0, total: file.size });
    try {
      const d = await upload(file, (loaded, total) => setUploading({ name: file.name, loaded, total }));
      setResult(d);
    } catch (e) {
      setError(e instanceof ApiError ? (e.problem.detail ?? e.message) : e instanceof Error ? e.message : 'The upload failed.');
    } finally {
      setUploading(null);
      if (input.current) input.current.value = '';
    }
  }

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    void take(e.dataTransfer.files[0]);
  };

  const pctDone = uploading && uploading.total > 0 ? Math.round((uploading.loaded / uploading.total) * 100) : 0;

  return (
    <section className="datasets" aria-labelledby={`${id}-h`}>
      <header>
        <h2 id={`${id}-h`}>Usage data</h2>
        <button type="button" className="icon" onClick={onClose} aria-label="Close usage data panel">
          ✕
        </button>
      </header>
      <div
        className={`dropzone${over ? ' over' : ''}`}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
      >
        <p>Drop a CSV or JSON Lines usage export here, or</p>
        <label className="button" htmlFor={`${id}-file`}>
          Choose a file
        </label>
        <input
          ref={input}
          id={`${id}-file`}
          className="visually-hidden"
          type="file"
          accept={ACCEPT}
          aria-label="Usage file (CSV or JSON Lines)"
          onChange={(e) => void take(e.target.files?.[0])}
        />
        <p className="muted small">Columns: timestamp, model, input_tokens, output_tokens, and optionally cost_usd, latency_ms, feature, prompt_hash, status.</p>
      </div>
      {uploading && (
        <div className="upload">
          <label htmlFor={`${id}-progress`}>Uploading {uploading.name}</label>
          <progress id={`${id}-progress`} max={100} value={pctDone} aria-valuetext={`${pctDone}%`}>
            {pctDone}%
          </progress>
        </div>
      )}
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {result && (
        <div className="parsed" data-testid="dataset-result" role="status">
          <p>
            <b>{result.name}</b>: <span data-testid="dataset-rows">{result.rows.toLocaleString()}</span> rows, {period(result)}
          </p>
          {result.warnings && result.warnings.length > 0 && (
            <details>
              <summary>
                {result.warnings.length} warning{result.warnings.length > 1 ? 's' : ''}
              </summary>
              <ul className="warnings">
                {result.warnings.slice(0, 50).map((w, i) => (
                  <li key={i}>{w}</li>
                ))}
              </ul>
            </details>
          )}
          <button
            type="button"
            className="primary"
            onClick={() => {
              onAttach(result);
              onClose();
            }}
          >
            Attach to conversation
          </button>
        </div>
      )}
      {attached && !result && (
        <p className="muted">
          Attached: {attached.name} ({attached.rows.toLocaleString()} rows){' '}
          <button type="button" className="link" onClick={() => onAttach(null)}>
            Detach
          </button>
        </p>
      )}
    </section>
  );
}
