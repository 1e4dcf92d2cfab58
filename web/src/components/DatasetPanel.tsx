import { useId, useRef, useState, type DragEvent } from 'react';
import { ApiError, readProblem, session } from '../api/session';
import { formatBytes } from '../api/limits';
import type { Dataset, UnrecognizedFormatProblem } from '../api/types';
import { isUnrecognizedFormat, mappingJson, type Mapping } from '../datasets/mapping';
import { ColumnMapping } from './ColumnMapping';

const ACCEPT = '.csv,.jsonl,.ndjson,.json,.gz,text/csv,application/x-ndjson,application/json,application/gzip';

interface Upload {
  name: string;
  loaded: number;
  total: number;
}

/**
 * POST /api/datasets as multipart with XMLHttpRequest: fetch has no upload progress events in
 * browsers yet, and a usage export can be tens of megabytes.
 */
function uploadOnce(
  file: File,
  mapping: Mapping | undefined,
  token: string | null,
  onProgress: (loaded: number, total: number) => void,
): Promise<{ status: number; body: string }> {
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
    if (mapping) form.append('mapping', mappingJson(mapping));
    xhr.send(form);
  });
}

async function upload(file: File, mapping: Mapping | undefined, onProgress: (loaded: number, total: number) => void): Promise<Dataset> {
  let res = await uploadOnce(file, mapping, await session.accessToken(), onProgress);
  if (res.status === 401 && (await session.refresh().catch(() => null))) {
    res = await uploadOnce(file, mapping, await session.accessToken(), onProgress);
  }
  if (res.status >= 200 && res.status < 300) return JSON.parse(res.body) as Dataset;
  throw new ApiError(res.status, await readProblem(new Response(res.body || null, { status: res.status })));
}

export type UploadFailure = { kind: 'mapping'; problem: UnrecognizedFormatProblem } | { kind: 'message'; text: string };

/**
 * What a failed upload asks of the user: a column mapping (422 `unrecognized_format`), or a
 * message: the server's detail (for `no_token_counts` it names the export to make instead).
 */
export function uploadFailure(e: unknown): UploadFailure {
  if (e instanceof ApiError) {
    if (e.status === 422 && isUnrecognizedFormat(e.problem)) return { kind: 'mapping', problem: e.problem };
    return { kind: 'message', text: e.problem.detail || e.message };
  }
  return { kind: 'message', text: e instanceof Error ? e.message : 'The upload failed.' };
}

function period(d: Dataset): string {
  const f = (s?: string | null) => (s ? new Date(s).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' }) : '?');
  return d.period_start || d.period_end ? `${f(d.period_start)} – ${f(d.period_end)}` : 'unknown period';
}

/** What an upload needs from the user: the columns of a file no format recognised. */
interface PendingMapping {
  file: File;
  problem: UnrecognizedFormatProblem;
}

/**
 * Uploads a usage export and attaches it to the conversation it was started from (`attachKey` at
 * the moment the upload began, even if the user moves to another conversation meanwhile).
 */
export function DatasetPanel({
  attachKey,
  maxUploadBytes,
  onAttach,
  onClose,
}: {
  attachKey: string;
  maxUploadBytes: number;
  onAttach: (key: string, d: Dataset) => void;
  onClose: () => void;
}) {
  const [uploading, setUploading] = useState<Upload | null>(null);
  const [result, setResult] = useState<Dataset | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState<PendingMapping | null>(null);
  const [over, setOver] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const id = useId();

  async function take(file: File | undefined, mapping?: Mapping) {
    if (!file) return;
    const key = attachKey;
    setError(null);
    setResult(null);
    if (file.size > maxUploadBytes) {
      setPending(null);
      setError(`${file.name} is ${formatBytes(file.size)}; uploads can be up to ${formatBytes(maxUploadBytes)}.`);
      if (input.current) input.current.value = '';
      return;
    }
    setUploading({ name: file.name, loaded: 0, total: file.size });
    try {
      const d = await upload(file, mapping, (loaded, total) => setUploading({ name: file.name, loaded, total }));
      setPending(null);
      setResult(d);
      onAttach(key, d);
    } catch (e) {
      const failure = uploadFailure(e);
      if (failure.kind === 'mapping') {
        setPending({ file, problem: failure.problem });
        // A retry whose mapping the server still refuses says why; the form stays for a correction.
        if (mapping) setError(failure.problem.detail ?? 'These columns do not cover the required fields.');
      } else {
        setPending(null);
        setError(failure.text);
      }
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
      {!pending && (
        <div
          className={`dropzone${over ? ' over' : ''}`}
          onDragOver={(e) => {
            e.preventDefault();
            setOver(true);
          }}
          onDragLeave={() => setOver(false)}
          onDrop={onDrop}
        >
          <p>Drop a usage export here (CSV, JSON Lines or JSON, optionally gzip-compressed), or</p>
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
          <p className="muted small">
            Exports of OpenAI, Anthropic, LiteLLM, Langfuse and others are recognised; any other CSV can be matched column by column. Up to{' '}
            {formatBytes(maxUploadBytes)}.
          </p>
        </div>
      )}
      {uploading && (
        <div className="upload">
          <label htmlFor={`${id}-progress`}>Uploading {uploading.name}</label>
          <progress id={`${id}-progress`} max={100} value={pctDone} aria-valuetext={`${pctDone}%`}>
            {pctDone}%
          </progress>
        </div>
      )}
      {error && (
        <p className="form-error" role="alert" data-testid="upload-error">
          {error}
        </p>
      )}
      {pending && (
        <ColumnMapping
          key={`${pending.file.name}-${pending.file.lastModified}`}
          fileName={pending.file.name}
          problem={pending.problem}
          busy={!!uploading}
          onSubmit={(m) => void take(pending.file, m)}
          onCancel={() => {
            setPending(null);
            setError(null);
          }}
        />
      )}
      {result && <DatasetSummary dataset={result} onClose={onClose} />}
    </section>
  );
}

/** What the server made of the upload: format, calls, period, warnings. */
export function DatasetSummary({ dataset, onClose }: { dataset: Dataset; onClose?: () => void }) {
  return (
    <div className="parsed" data-testid="dataset-result" role="status">
      <p>
        <b>{dataset.name}</b>: <span data-testid="dataset-rows">{dataset.rows.toLocaleString('en-US')}</span> rows
        {dataset.calls !== undefined && (
          <>
            , <span data-testid="dataset-calls">{dataset.calls.toLocaleString('en-US')}</span> calls
          </>
        )}
        , {period(dataset)}
      </p>
      {dataset.source_format_name && (
        <p className="small">
          Recognised as <span data-testid="dataset-format">{dataset.source_format_name}</span>
        </p>
      )}
      {dataset.aggregated && <p className="muted small">Rows are totals over several calls: per-call latency and repeats are not available.</p>}
      {dataset.cost_only && <p className="muted small">The export has costs but no token counts: token-based advice is limited.</p>}
      {dataset.warnings && dataset.warnings.length > 0 && (
        <details>
          <summary>
            {dataset.warnings.length} warning{dataset.warnings.length > 1 ? 's' : ''}
          </summary>
          <ul className="warnings">
            {dataset.warnings.slice(0, 50).map((w, i) => (
              <li key={i}>{w}</li>
            ))}
          </ul>
        </details>
      )}
      <p className="small">Attached to this conversation: your next message uses it.</p>
      {onClose && (
        <button type="button" className="primary" onClick={onClose}>
          Done
        </button>
      )}
    </div>
  );
}
