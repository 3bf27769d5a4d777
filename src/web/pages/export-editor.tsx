import { useMemo, useState, type FormEvent } from 'react';
import type { PublicConnection } from '../../domain/connection';
import { MAPPING_KEYS, type ExportResource, type Mapping } from '../../domain/export';
import type { RunMode } from '../../domain/run';
import type { Segment } from '../../domain/segment';
import { api, ApiError } from '../api';
import { providerLabel } from '../format';
import { messageOf, useLoad } from '../hooks';
import { href, navigate } from '../router';
import { fieldProblems, LoadError, Loading, Notice, Page } from '../ui';
import { RunHistory } from './runs';

// Create or edit an export: its connection (fixed once saved), segments, the field mapping as
// choices among the fields every chosen segment has, and provider options. Saving runs nothing;
// the run buttons do.

type MappingKey = (typeof MAPPING_KEYS)[number];

const MAPPING_LABELS: Record<MappingKey, string> = {
  email: 'Email',
  firstName: 'First name',
  lastName: 'Last name',
  phone: 'Phone',
  address: 'Address',
  city: 'City',
  countryRegion: 'Country or region',
  postalCode: 'Postal code',
};

/** Field names that usually mean a mapping key, tried when a key is not mapped yet. */
const GUESSES: Record<MappingKey, RegExp> = {
  email: /^e-?mail(address)?$/i,
  firstName: /^(first|given)[-_ ]?name$/i,
  lastName: /^(last|family|sur)[-_ ]?name$/i,
  phone: /^(phone|mobile|phone[-_ ]?number)$/i,
  address: /^(address|street|address[-_ ]?line[-_ ]?1)$/i,
  city: /^(city|town)$/i,
  countryRegion: /^(country|country[-_ ]?code|country[-_ ]?region)$/i,
  postalCode: /^(postal[-_ ]?code|zip|zip[-_ ]?code|postcode)$/i,
};

interface Data {
  connections: PublicConnection[];
  segments: Segment[];
  export: ExportResource | undefined;
}

export function ExportEditorPage(props: { exportId?: string; isAdmin: boolean }) {
  const { exportId } = props;
  const data = useLoad<Data>(async (signal) => {
    const [connections, segments, existing] = await Promise.all([
      api.listConnections(signal),
      api.listSegments(signal),
      exportId ? api.getExport(exportId, signal) : Promise.resolve(undefined),
    ]);
    return { connections: connections.items, segments: segments.items, export: existing };
  }, exportId ?? 'new');
  // Held here, not in the form: saving reloads the export, and the form is keyed by its
  // `updatedAt`, so a notice kept in the form would vanish with the remount it causes.
  const [notice, setNotice] = useState<{ exportId: string | undefined; message: string }>();
  const saved = notice && notice.exportId === exportId ? notice.message : undefined;
  const onSaved = (message: string | undefined) => {
    setNotice(message === undefined ? undefined : { exportId, message });
    if (message) data.reload();
  };

  const title = exportId ? (data.state === 'ready' && data.data.export ? data.data.export.name : 'Export') : 'New export';
  return (
    <Page title={title} lead={exportId ? undefined : 'Pick where to send, which segments, and which of their fields.'}>
      {data.state === 'loading' ? <Loading what="the export" /> : null}
      {data.state === 'error' ? <LoadError what="the export" error={data.error} onRetry={data.reload} /> : null}
      {data.state === 'ready' ? (
        <>
          {data.data.export ? <RunButtons exportId={data.data.export.id} activeRunId={data.data.export.activeRunId} /> : null}
          <ExportForm key={data.data.export?.updatedAt ?? 'new'} data={data.data} isAdmin={props.isAdmin} saved={saved} onSaved={onSaved} />
          {data.data.export ? (
            <section aria-labelledby="export-runs" className="card">
              <h2 id="export-runs">Runs</h2>
              <RunHistory exportId={data.data.export.id} />
            </section>
          ) : null}
        </>
      ) : null}
    </Page>
  );
}

function guessMapping(fields: readonly string[], mapping: Partial<Mapping>): Partial<Mapping> {
  const next: Partial<Mapping> = { ...mapping };
  for (const key of MAPPING_KEYS) {
    if (next[key] && fields.includes(next[key])) continue;
    const guess = fields.find((field) => GUESSES[key].test(field));
    if (guess) next[key] = guess;
    else if (next[key] && !fields.includes(next[key])) delete next[key];
  }
  return next;
}

function ExportForm(props: { data: Data; isAdmin: boolean; saved: string | undefined; onSaved: (message: string | undefined) => void }) {
  const existing = props.data.export;
  const { connections, segments } = props.data;
  const [name, setName] = useState(existing?.name ?? '');
  const [connectionId, setConnectionId] = useState(existing?.connectionId ?? connections[0]?.id ?? '');
  const [segmentIds, setSegmentIds] = useState<string[]>(existing?.segmentIds ?? []);
  const [mapping, setMapping] = useState<Partial<Mapping>>(existing?.mapping ?? {});
  const [listId, setListId] = useState(existing?.options.listId ? String(existing.options.listId) : '');
  const [safety, setSafety] = useState<SafetyInputs>(() => safetyInputs(existing?.options.safety));
  const [saving, setSaving] = useState(false);
  const { saved, onSaved } = props;
  const [error, setError] = useState<unknown>();

  const connection = connections.find((item) => item.id === connectionId);
  const provider = connection?.provider ?? existing?.provider;
  /** A mapped field must be in every segment of the export. */
  const fields = useMemo(() => {
    const chosen = segments.filter((segment) => segmentIds.includes(segment.id));
    if (chosen.length === 0) return [];
    return chosen[0]!.fields.filter((field) => chosen.every((segment) => segment.fields.includes(field)));
  }, [segments, segmentIds]);

  // Brevo's answer about the list is the field's own problem; other refusals list every field.
  const listRefused = error instanceof ApiError && error.code === 'list_not_found';
  const problems = listRefused ? [] : fieldProblems(error);
  const problemOf = (path: string) => problems.find((problem) => problem.path === path || problem.path.startsWith(`${path}.`))?.message;
  const listProblem = listRefused ? error.message : problemOf('options.listId');
  const safetyReady = SAFETY_KEYS.every((key) => !safety[key].on || shareOf(safety[key].percent) !== undefined);
  const ready =
    name.trim() !== '' && connectionId !== '' && segmentIds.length > 0 && Boolean(mapping.email) && !saving && (provider !== 'brevo' || listId !== '') && safetyReady;

  const toggleSegment = (segmentId: string, on: boolean) => {
    const next = on ? [...segmentIds, segmentId] : segmentIds.filter((id) => id !== segmentId);
    setSegmentIds(next);
    const chosen = segments.filter((segment) => next.includes(segment.id));
    const common = chosen.length === 0 ? [] : chosen[0]!.fields.filter((field) => chosen.every((segment) => segment.fields.includes(field)));
    setMapping((current) => guessMapping(common, current));
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!ready || !mapping.email) return;
    setSaving(true);
    setError(undefined);
    onSaved(undefined);
    const cleanMapping: Mapping = { ...mapping, email: mapping.email };
    for (const key of MAPPING_KEYS) if (!cleanMapping[key]) delete cleanMapping[key];
    const options = { ...(provider === 'brevo' ? { listId: Number(listId) } : {}), safety: safetyOption(safety) };
    const saving$ = existing
      ? api.updateExport(existing.id, { name: name.trim(), segmentIds, mapping: cleanMapping, options })
      : api.createExport({ name: name.trim(), connectionId, segmentIds, mapping: cleanMapping, options });
    saving$
      .then((result) => {
        if (existing) {
          onSaved('Saved. The next run uses these settings.');
        } else {
          navigate(href('exports', result.id));
        }
      })
      .catch((failure: unknown) => setError(failure))
      .finally(() => setSaving(false));
  };

  if (!existing && connections.length === 0) {
    return (
      <Notice kind="info">
        {props.isAdmin ? (
          <>
            There is no connection to export to yet. <a href={href('connections')}>Add a connection</a> first.
          </>
        ) : (
          'No connection is shared with Contributors yet: ask an Admin to allow Contributors on one.'
        )}
      </Notice>
    );
  }

  return (
    <form className="card" onSubmit={submit} noValidate aria-labelledby="export-settings">
      <h2 id="export-settings">Settings</h2>
      <div className="field">
        <label htmlFor="export-name">Name</label>
        <input id="export-name" value={name} maxLength={200} onChange={(event) => setName(event.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="export-connection">Connection</label>
        {existing ? (
          <p id="export-connection" className="static">
            {connection?.displayName ?? existing.connectionId} ({providerLabel(existing.provider)}): an export keeps its connection
          </p>
        ) : (
          <select id="export-connection" value={connectionId} onChange={(event) => setConnectionId(event.target.value)}>
            {connections.map((item) => (
              <option key={item.id} value={item.id}>
                {item.displayName} ({providerLabel(item.provider)})
              </option>
            ))}
          </select>
        )}
      </div>
      <fieldset>
        <legend>Segments</legend>
        {segments.length === 0 ? (
          <p>
            No segments yet. <a href={href('segments')}>Upload one</a> first.
          </p>
        ) : (
          <ul className="checklist">
            {segments.map((segment) => (
              <li key={segment.id} className="field checkbox">
                <input
                  id={`export-segment-${segment.id}`}
                  type="checkbox"
                  checked={segmentIds.includes(segment.id)}
                  onChange={(event) => toggleSegment(segment.id, event.target.checked)}
                />
                <label htmlFor={`export-segment-${segment.id}`}>
                  {segment.name} <span className="muted">({segment.memberCount.toLocaleString('en-US')} members)</span>
                </label>
              </li>
            ))}
          </ul>
        )}
        {problemOf('segmentIds') ? <p className="hint problem">{problemOf('segmentIds')}</p> : null}
      </fieldset>
      <fieldset>
        <legend>Fields to send</legend>
        <p className="hint" id="mapping-note">
          {segmentIds.length === 0
            ? 'Pick segments first: the choices are the fields every chosen segment has.'
            : `Choices: the ${fields.length} fields every chosen segment has. Email is required.`}
        </p>
        <div className="mapping-grid">
          {MAPPING_KEYS.map((key) => {
            const problem = problemOf(`mapping.${key}`);
            return (
              <div className="field" key={key}>
                <label htmlFor={`mapping-${key}`}>
                  {MAPPING_LABELS[key]}
                  {key === 'email' ? <span aria-hidden="true"> *</span> : null}
                </label>
                <select
                  id={`mapping-${key}`}
                  value={mapping[key] ?? ''}
                  required={key === 'email'}
                  disabled={fields.length === 0}
                  aria-invalid={problem ? true : undefined}
                  aria-describedby={problem ? `mapping-${key}-problem` : 'mapping-note'}
                  onChange={(event) => setMapping((current) => ({ ...current, [key]: event.target.value || undefined }))}
                >
                  <option value="">{key === 'email' ? 'Choose a field' : 'Not sent'}</option>
                  {fields.map((field) => (
                    <option key={field} value={field}>
                      {field}
                    </option>
                  ))}
                </select>
                {problem ? (
                  <p className="hint problem" id={`mapping-${key}-problem`}>
                    {problem}
                  </p>
                ) : null}
              </div>
            );
          })}
        </div>
      </fieldset>
      {provider === 'brevo' ? (
        <div className="field">
          <label htmlFor="export-list">Brevo list ID</label>
          <input
            id="export-list"
            inputMode="numeric"
            value={listId}
            aria-invalid={listProblem ? true : undefined}
            aria-describedby="export-list-note"
            onChange={(event) => setListId(event.target.value.replace(/\D/g, ''))}
          />
          <p id="export-list-note" className={listProblem ? 'hint problem' : 'hint'}>
            {listProblem ?? 'The Brevo list that receives the members of every chosen segment. Checked with Brevo when you save.'}
          </p>
        </div>
      ) : provider ? (
        <p className="hint">
          {providerLabel(provider)} receives each segment as {provider === 'iterable' ? 'a list' : 'a tag'} named after the segment.
        </p>
      ) : null}
      <SafetyFields safety={safety} onChange={setSafety} problem={problemOf('options.safety')} />
      {error && problems.length === 0 && !listProblem ? <Notice kind="error">{messageOf(error)}</Notice> : null}
      {error && problems.length > 0 ? (
        <Notice kind="error">
          <p>The export was not saved:</p>
          <ul>
            {problems.map((problem) => (
              <li key={`${problem.path}:${problem.message}`}>
                {problem.path}: {problem.message}
              </li>
            ))}
          </ul>
        </Notice>
      ) : null}
      {saved ? <Notice kind="success">{saved}</Notice> : null}
      <div className="form-actions">
        <button type="submit" disabled={!ready}>
          {saving ? 'Saving…' : existing ? 'Save changes' : 'Save export'}
        </button>
        <span className="hint">Saving does not run the export.</span>
      </div>
    </form>
  );
}

type SafetyKey = 'maxRemoveShare' | 'maxInvalidShare';
type SafetyInputs = Record<SafetyKey, { on: boolean; percent: string }>;
const SAFETY_KEYS: SafetyKey[] = ['maxRemoveShare', 'maxInvalidShare'];
const SAFETY_DEFAULTS: Record<SafetyKey, number> = { maxRemoveShare: 0.2, maxInvalidShare: 0.5 };
const SAFETY_LABELS: Record<SafetyKey, { label: string; hint: string }> = {
  maxRemoveShare: {
    label: 'Stop a run that would remove more than',
    hint: 'of the members this export holds at a list or tag (checked from 100 removals on).',
  },
  maxInvalidShare: { label: 'Stop a run when more than', hint: 'of the profiles have no valid email.' },
};

function safetyInputs(saved: Partial<Record<SafetyKey, number | null>> | undefined): SafetyInputs {
  const one = (key: SafetyKey) => {
    const value = saved?.[key] === undefined ? SAFETY_DEFAULTS[key] : saved[key];
    return value === null ? { on: false, percent: String(SAFETY_DEFAULTS[key] * 100) } : { on: true, percent: String(Math.round(value * 1000) / 10) };
  };
  return { maxRemoveShare: one('maxRemoveShare'), maxInvalidShare: one('maxInvalidShare') };
}

/** A percentage from 0 to 100 as a share, or undefined when it is not one. */
function shareOf(percent: string): number | undefined {
  const value = Number(percent);
  return percent.trim() !== '' && Number.isFinite(value) && value >= 0 && value <= 100 ? Math.round(value * 10) / 1000 : undefined;
}

function safetyOption(safety: SafetyInputs): Record<SafetyKey, number | null> {
  const one = (key: SafetyKey) => (safety[key].on ? (shareOf(safety[key].percent) ?? SAFETY_DEFAULTS[key]) : null);
  return { maxRemoveShare: one('maxRemoveShare'), maxInvalidShare: one('maxInvalidShare') };
}

function SafetyFields(props: { safety: SafetyInputs; onChange: (next: SafetyInputs) => void; problem: string | undefined }) {
  const { safety } = props;
  const set = (key: SafetyKey, change: Partial<SafetyInputs[SafetyKey]>) => props.onChange({ ...safety, [key]: { ...safety[key], ...change } });
  return (
    <fieldset>
      <legend>Safety</legend>
      <p className="hint" id="safety-note">
        A run past one of these stops before it sends anything; start it with &ldquo;Confirm removals&rdquo; on its page if it was meant.
      </p>
      {SAFETY_KEYS.map((key) => {
        const invalid = safety[key].on && shareOf(safety[key].percent) === undefined;
        return (
          <div className="field safety-field" key={key}>
            <input id={`safety-${key}-on`} type="checkbox" checked={safety[key].on} onChange={(event) => set(key, { on: event.target.checked })} />
            <label htmlFor={`safety-${key}-on`}>{SAFETY_LABELS[key].label}</label>
            <input
              id={`safety-${key}`}
              className="percent"
              inputMode="decimal"
              aria-label={`${SAFETY_LABELS[key].label} (percent)`}
              aria-invalid={invalid ? true : undefined}
              aria-describedby={`safety-${key}-hint`}
              disabled={!safety[key].on}
              value={safety[key].percent}
              onChange={(event) => set(key, { percent: event.target.value })}
            />
            <span id={`safety-${key}-hint`} className={invalid ? 'hint problem' : 'hint'}>
              {invalid ? 'A percentage from 0 to 100.' : `% ${SAFETY_LABELS[key].hint}`}
            </span>
          </div>
        );
      })}
      {props.problem ? <p className="hint problem">{props.problem}</p> : null}
    </fieldset>
  );
}

const RUN_KINDS: { label: string; mode: RunMode; dryRun: boolean; hint: string }[] = [
  { label: 'Run now', mode: 'delta', dryRun: false, hint: 'Sends what changed since the last run.' },
  { label: 'Full run', mode: 'full', dryRun: false, hint: 'Sends every member again.' },
  { label: 'Dry run', mode: 'delta', dryRun: true, hint: 'Counts what a run would add, update and remove; sends nothing.' },
];

function RunButtons(props: { exportId: string; activeRunId: string | undefined }) {
  const [starting, setStarting] = useState(false);
  const [error, setError] = useState<unknown>();
  const start = (mode: RunMode, dryRun: boolean) => {
    setStarting(true);
    setError(undefined);
    api
      .startRun(props.exportId, { mode, dryRun })
      .then((started) => navigate(href('runs', started.runId)))
      .catch((failure: unknown) => {
        setStarting(false);
        setError(failure);
      });
  };
  const activeRunId =
    error instanceof ApiError && error.code === 'run_in_progress' ? (error.details as { runId?: string } | undefined)?.runId : props.activeRunId;
  return (
    <section aria-labelledby="run-export" className="card run-actions">
      <h2 id="run-export">Run</h2>
      <ul className="button-row">
        {RUN_KINDS.map((kind) => (
          <li key={kind.label}>
            <button type="button" className={kind.dryRun ? 'secondary' : undefined} disabled={starting} onClick={() => start(kind.mode, kind.dryRun)} aria-describedby={`run-hint-${kind.mode}-${String(kind.dryRun)}`}>
              {kind.label}
            </button>
            <span className="hint" id={`run-hint-${kind.mode}-${String(kind.dryRun)}`}>
              {kind.hint}
            </span>
          </li>
        ))}
      </ul>
      {activeRunId ? (
        <Notice kind={error ? 'error' : 'info'}>
          {error ? 'This export already has a run in progress. ' : 'A run is in progress. '}
          <a href={href('runs', activeRunId)}>Watch it</a>
        </Notice>
      ) : error ? (
        <Notice kind="error">{messageOf(error)}</Notice>
      ) : null}
    </section>
  );
}
