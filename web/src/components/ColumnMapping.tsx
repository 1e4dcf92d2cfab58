import { useId, useState } from 'react';
import type { UnrecognizedFormatProblem } from '../api/types';
import { fieldLabel, guessMapping, mappingProblems, type Mapping } from '../datasets/mapping';

/**
 * Which of the file's columns holds each Apex field: one select per field listing the header the
 * server found. Required fields must be set; submitting hands the mapping back for a retry.
 */
export function ColumnMapping({
  fileName,
  problem,
  busy,
  onSubmit,
  onCancel,
}: {
  fileName: string;
  problem: UnrecognizedFormatProblem;
  busy?: boolean;
  onSubmit: (m: Mapping) => void;
  onCancel: () => void;
}) {
  const id = useId();
  const needed = problem.fields_needed;
  const optional = (problem.fields_optional ?? []).filter((f) => !needed.includes(f));
  const [mapping, setMapping] = useState<Mapping>(() => guessMapping(problem.columns_found, [...needed, ...optional]));
  const [tried, setTried] = useState(false);
  const { missing, duplicates } = mappingProblems(mapping, needed);
  const invalid = missing.length > 0 || duplicates.length > 0;

  const select = (field: string, required: boolean) => {
    const sid = `${id}-${field}`;
    const bad = tried && ((required && !mapping[field]) || (!!mapping[field] && duplicates.includes(mapping[field])));
    return (
      <div className="field" key={field}>
        <label htmlFor={sid}>
          {fieldLabel(field)} {required ? <span className="muted small">(required)</span> : <span className="muted small">(optional)</span>}
        </label>
        <select
          id={sid}
          name={field}
          value={mapping[field] ?? ''}
          aria-invalid={bad || undefined}
          required={required}
          onChange={(e) => setMapping((m) => ({ ...m, [field]: e.target.value }))}
        >
          <option value="">{required ? 'Choose a column…' : 'Not in this file'}</option>
          {problem.columns_found.map((c) => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </select>
      </div>
    );
  };

  return (
    <form
      className="mapping"
      aria-labelledby={`${id}-h`}
      data-testid="column-mapping"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        setTried(true);
        if (!invalid) onSubmit(mapping);
      }}
    >
      <h3 id={`${id}-h`}>Match the columns of {fileName}</h3>
      <p className="muted small">{problem.detail ?? 'Apex does not recognise this export. Tell it which column holds each field.'}</p>
      <fieldset>
        <legend>Required</legend>
        {needed.map((f) => select(f, true))}
      </fieldset>
      {optional.length > 0 && (
        <fieldset>
          <legend>Optional</legend>
          {optional.map((f) => select(f, false))}
        </fieldset>
      )}
      {tried && invalid && (
        <p className="form-error" role="alert">
          {missing.length > 0 && `Choose a column for ${missing.map(fieldLabel).join(', ')}. `}
          {duplicates.length > 0 && `Each column can hold one field only: ${duplicates.join(', ')}.`}
        </p>
      )}
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          Upload with these columns
        </button>
        <button type="button" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}
