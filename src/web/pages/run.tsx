import { useState } from 'react';
import { isTerminal, TOTAL_NAMES, type RejectRow, type RunResource, type TotalName } from '../../domain/run';
import { api } from '../api';
import { rejectsCsv } from '../csv';
import { count, duration, runSeconds, STATUS_LABELS, when } from '../format';
import { messageOf, useInterval, useLoad } from '../hooks';
import { href, navigate } from '../router';
import { Empty, LoadError, Loading, Notice, Page, ProgressBar, StatusBadge } from '../ui';

// One run, live: progress with an ETA, totals, failed chunks, cancel, and the rejected records.

const POLL_MS = 1_000;
const REJECTS_PER_PAGE = 25;

const TRIGGER_LABELS: Record<RunResource['trigger'], string> = {
  schedule: 'scheduled',
  'on-demand': 'on demand',
  source: 'new segment version from a source',
  cleanup: 'cleanup (removals only)',
};

const TOTAL_LABELS: Record<TotalName, string> = {
  profiles: 'Profiles read',
  invalid: 'Invalid emails',
  duplicates: 'Duplicates',
  adds: 'Adds',
  updates: 'Updates',
  removes: 'Removes',
  unchanged: 'Unchanged',
  sent: 'Sent',
  rejected: 'Rejected by the provider',
  failed: 'Failed to deliver',
  suppressed: 'Suppressed (erased people)',
};

export function RunPage(props: { runId: string }) {
  const run = useLoad(async (signal) => {
    const resource = await api.getRun(props.runId, signal);
    const exported = await api.getExport(resource.exportId, signal).catch(() => undefined);
    return { run: resource, exportName: exported?.name };
  }, props.runId);
  const live = run.state === 'ready' && !isTerminal(run.data.run.status);
  useInterval(run.reload, POLL_MS, live);

  const title = run.state === 'ready' ? `Run of ${run.data.exportName ?? run.data.run.exportId}` : 'Run';
  return (
    <Page title={title}>
      {run.state === 'loading' ? <Loading what="the run" /> : null}
      {run.state === 'error' ? <LoadError what="the run" error={run.error} onRetry={run.reload} /> : null}
      {run.state === 'ready' ? <RunDetails run={run.data.run} exportName={run.data.exportName} onChanged={run.reload} /> : null}
    </Page>
  );
}

function RunDetails(props: { run: RunResource; exportName: string | undefined; onChanged: () => void }) {
  const { run } = props;
  const finished = isTerminal(run.status);
  const seconds = runSeconds(run);
  const [cancelling, setCancelling] = useState(false);
  const [cancelError, setCancelError] = useState<string>();
  const chunks =
    run.progress.chunksTotal > 0
      ? `${count(run.progress.chunksDone)} of ${count(run.progress.chunksTotal)} chunks`
      : finished
        ? 'nothing to deliver'
        : 'planning the chunks';
  const progressDetail = [
    chunks,
    run.progress.etaSeconds === undefined ? undefined : `about ${duration(run.progress.etaSeconds)} left`,
  ]
    .filter(Boolean)
    .join(', ');

  return (
    <>
      <section aria-labelledby="run-status" className="card">
        <h2 id="run-status">Status</h2>
        <p className="run-summary" aria-live="polite">
          <StatusBadge status={run.status} reason={run.reason} /> {describeRun(run)}
        </p>
        <dl className="facts">
          <div>
            <dt>Export</dt>
            <dd>
              <a href={href('exports', run.exportId)}>{props.exportName ?? run.exportId}</a>
            </dd>
          </div>
          <div>
            <dt>Kind</dt>
            <dd>
              {run.mode === 'full' ? 'Full run' : 'Changes only'}
              {run.dryRun ? ', dry run' : ''}, {TRIGGER_LABELS[run.trigger]}
            </dd>
          </div>
          <div>
            <dt>Started</dt>
            <dd>{when(run.startedAt ?? run.createdAt)}</dd>
          </div>
          <div>
            <dt>Took</dt>
            <dd>{seconds === undefined ? 'Still running' : duration(seconds)}</dd>
          </div>
        </dl>
        <ProgressBar percent={run.progress.percent} label={finished ? 'Done' : 'Progress'} detail={progressDetail} />
        {!finished ? (
          <div className="form-actions">
            <button
              type="button"
              className="danger-outline"
              disabled={cancelling}
              onClick={() => {
                setCancelling(true);
                setCancelError(undefined);
                api
                  .cancelRun(run.runId)
                  .then(props.onChanged)
                  .catch((error: unknown) => setCancelError(messageOf(error)))
                  .finally(() => setCancelling(false));
              }}
            >
              {cancelling ? 'Cancelling…' : 'Cancel run'}
            </button>
            <span className="hint">No further chunk is sent; what was sent stays.</span>
          </div>
        ) : null}
        {cancelError ? <Notice kind="error">{cancelError}</Notice> : null}
        {run.dryRun && finished ? (
          <Notice kind="info">
            Dry run: nothing was sent. A run now would add {count(run.totals.adds)}, update {count(run.totals.updates)} and remove{' '}
            {count(run.totals.removes)} members ({count(run.totals.unchanged)} unchanged).
            {run.safety?.stoppedBy ? ` ${SAFETY_STOPS[run.safety.stoppedBy]}: a run would stop before it sends.` : ''}
          </Notice>
        ) : null}
        {run.safety?.stoppedBy && !run.dryRun && !run.safety.confirmed ? <SafetyStop run={run} /> : null}
      </section>

      <section aria-labelledby="run-totals" className="card">
        <h2 id="run-totals">Totals</h2>
        <dl className="totals">
          {TOTAL_NAMES.map((name) => (
            <div key={name} className={`total total-${name}`}>
              <dt>{TOTAL_LABELS[name]}</dt>
              <dd>{count(run.totals[name])}</dd>
            </div>
          ))}
        </dl>
      </section>

      {run.failedChunks && run.failedChunks.length > 0 ? (
        <section aria-labelledby="run-failed" className="card">
          <h2 id="run-failed">Failed chunks</h2>
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Chunks that could not be delivered</caption>
              <thead>
                <tr>
                  <th scope="col" className="number">
                    Chunk
                  </th>
                  <th scope="col">Target</th>
                  <th scope="col" className="number">
                    Records
                  </th>
                  <th scope="col">Error</th>
                </tr>
              </thead>
              <tbody>
                {run.failedChunks.map((chunk) => (
                  <tr key={chunk.chunk}>
                    <td className="number">{chunk.chunk}</td>
                    <td>{chunk.target}</td>
                    <td className="number">{count(chunk.records)}</td>
                    <td>{chunk.error}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p className="hint">The next run sends what these chunks did not deliver.</p>
        </section>
      ) : null}

      <Rejects runId={run.runId} finished={finished} />
    </>
  );
}

const SAFETY_STOPS: Record<NonNullable<NonNullable<RunResource['safety']>['stoppedBy']>, string> = {
  removal_threshold_exceeded: 'Too many removals',
  invalid_threshold_exceeded: 'Too many invalid emails',
};

/** A run a safety share stopped: what it found, and the way to run it anyway. */
function SafetyStop(props: { run: RunResource }) {
  const { run } = props;
  const [starting, setStarting] = useState(false);
  const [error, setError] = useState<string>();
  const safety = run.safety!;
  const found =
    safety.stoppedBy === 'removal_threshold_exceeded'
      ? `it would remove ${count(safety.removes)} of the ${count(safety.held)} members this export holds at a list or tag`
      : `${count(safety.invalid)} of ${count(safety.profiles)} profiles have no valid email`;
  return (
    <div className="safety-stop">
      <Notice kind="error">
        {SAFETY_STOPS[safety.stoppedBy!]}: {found}. Nothing was sent. If the segment really changed this much, run it again with the removals confirmed.
      </Notice>
      <div className="form-actions">
        <button
          type="button"
          className="danger-outline"
          disabled={starting}
          onClick={() => {
            setStarting(true);
            setError(undefined);
            api
              .startRun(run.exportId, { mode: run.mode, dryRun: false, confirmRemovals: true })
              .then((started) => navigate(href('runs', started.runId)))
              .catch((failure: unknown) => {
                setStarting(false);
                setError(messageOf(failure));
              });
          }}
        >
          {starting ? 'Starting…' : 'Confirm removals and run'}
        </button>
      </div>
      {error ? <Notice kind="error">{error}</Notice> : null}
    </div>
  );
}

function describeRun(run: RunResource): string {
  if (run.status === 'skipped') return `Skipped${run.reason ? `: ${run.reason}` : ''}.`;
  if (!isTerminal(run.status)) return `${STATUS_LABELS[run.status]}: ${run.progress.percent}% done.`;
  const rejected = run.totals.rejected + run.totals.invalid + run.totals.duplicates;
  return `${count(run.totals.sent)} sent, ${count(rejected)} rejected${run.reason ? ` (${run.reason})` : ''}.`;
}

interface RejectsState {
  rows: RejectRow[];
  next: string | undefined;
}

function Rejects(props: { runId: string; finished: boolean }) {
  // Rejects are complete once the run has finished; read them then (and again if asked).
  const first = useLoad(async (signal) => {
    const page = await api.listRejects(props.runId, undefined, signal);
    return { rows: page.items, next: page.continuationToken };
  }, `${props.runId}:${String(props.finished)}`);
  const [extra, setExtra] = useState<RejectsState>();
  const [page, setPage] = useState(0);
  const [busy, setBusy] = useState(false);
  const [pageError, setPageError] = useState<string>();
  const [download, setDownload] = useState<{ state: 'idle' | 'busy' | 'done'; error?: string }>({ state: 'idle' });

  if (first.state === 'loading') return <Loading what="rejected records" />;
  if (first.state === 'error') return <LoadError what="the rejected records" error={first.error} onRetry={first.reload} />;
  const loaded = extra ?? first.data;
  const pageRows = loaded.rows.slice(page * REJECTS_PER_PAGE, (page + 1) * REJECTS_PER_PAGE);
  const hasNext = (page + 1) * REJECTS_PER_PAGE < loaded.rows.length || loaded.next !== undefined;

  const goNext = () => {
    const wanted = (page + 2) * REJECTS_PER_PAGE;
    if (loaded.rows.length >= wanted || loaded.next === undefined) {
      setPage(page + 1);
      return;
    }
    setBusy(true);
    api
      .listRejects(props.runId, loaded.next)
      .then((more) => {
        setExtra({ rows: [...loaded.rows, ...more.items], next: more.continuationToken });
        setPage(page + 1);
      })
      .catch((error: unknown) => setPageError(messageOf(error)))
      .finally(() => setBusy(false));
  };

  const downloadAll = async () => {
    setDownload({ state: 'busy' });
    try {
      const rows = [...loaded.rows];
      for (let token = loaded.next; token !== undefined; ) {
        const more = await api.listRejects(props.runId, token);
        rows.push(...more.items);
        token = more.continuationToken;
      }
      const link = document.createElement('a');
      link.href = URL.createObjectURL(new Blob([rejectsCsv(rows)], { type: 'text/csv;charset=utf-8' }));
      link.download = `rejects-${props.runId}.csv`;
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
      setDownload({ state: 'done' });
    } catch (error) {
      setDownload({ state: 'idle', error: messageOf(error) });
    }
  };

  return (
    <section aria-labelledby="run-rejects" className="card">
      <h2 id="run-rejects">Rejected records</h2>
      {loaded.rows.length === 0 ? (
        <Empty>
          <p>{props.finished ? 'No record was rejected.' : 'No rejected record so far.'}</p>
        </Empty>
      ) : (
        <>
          <div className="form-actions">
            <button type="button" className="secondary" onClick={() => void downloadAll()} disabled={download.state === 'busy'}>
              {download.state === 'busy' ? 'Preparing the CSV…' : 'Download all as CSV'}
            </button>
            {download.state === 'done' ? <span role="status">Downloaded.</span> : null}
            {download.error ? <span role="alert">{download.error}</span> : null}
          </div>
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">
                Rejected records, page {page + 1}
              </caption>
              <thead>
                <tr>
                  <th scope="col">Email</th>
                  <th scope="col">Segment</th>
                  <th scope="col">Code</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {pageRows.map((row, index) => (
                  <tr key={`${page}-${index}`}>
                    <td className="email">{row.email || <span className="muted">(none)</span>}</td>
                    <td>{row.segmentId}</td>
                    <td>
                      <code>{row.code}</code>
                    </td>
                    <td>{row.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav className="pager" aria-label="Rejected records pages">
            <button type="button" className="secondary" disabled={page === 0 || busy} onClick={() => setPage(page - 1)}>
              Previous page
            </button>
            <span>
              Page {page + 1}, records {page * REJECTS_PER_PAGE + 1}–{page * REJECTS_PER_PAGE + pageRows.length}
              {loaded.next === undefined ? ` of ${count(loaded.rows.length)}` : ''}
            </span>
            <button type="button" className="secondary" disabled={!hasNext || busy} onClick={goNext}>
              {busy ? 'Loading…' : 'Next page'}
            </button>
          </nav>
          {pageError ? <Notice kind="error">Could not load the next page: {pageError}</Notice> : null}
        </>
      )}
    </section>
  );
}
