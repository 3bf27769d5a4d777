import { useState } from 'react';
import type { RunResource } from '../../domain/run';
import { api, type Page as ApiPage } from '../api';
import { count, duration, runSeconds, when } from '../format';
import { useLoad } from '../hooks';
import { href, navigate } from '../router';
import { Empty, LoadError, Loading, Page, StatusBadge } from '../ui';

// The runs of one export, newest first, a page of the API at a time.

export function RunsPage(props: { exportId: string | undefined }) {
  const exports = useLoad((signal) => api.listExports(signal).then((page) => page.items), 'exports');
  const chosen = props.exportId ?? (exports.state === 'ready' ? exports.data[0]?.id : undefined);
  return (
    <Page title="Runs" lead="Every run of an export: when, how it was started, and what it sent.">
      {exports.state === 'loading' ? <Loading what="exports" /> : null}
      {exports.state === 'error' ? <LoadError what="the exports" error={exports.error} onRetry={exports.reload} /> : null}
      {exports.state === 'ready' && exports.data.length === 0 ? (
        <Empty>
          <p>
            No exports yet, so no runs. <a href={href('exports', 'new')}>Create an export</a> and run it.
          </p>
        </Empty>
      ) : null}
      {exports.state === 'ready' && exports.data.length > 0 ? (
        <>
          <div className="field inline">
            <label htmlFor="runs-export">Export</label>
            <select id="runs-export" value={chosen} onChange={(event) => navigate(`#/runs?export=${encodeURIComponent(event.target.value)}`)}>
              {exports.data.map((item) => (
                <option key={item.id} value={item.id}>
                  {item.name}
                </option>
              ))}
            </select>
          </div>
          {chosen ? <RunHistory exportId={chosen} /> : null}
        </>
      ) : null}
    </Page>
  );
}

export function RunHistory(props: { exportId: string }) {
  const [pages, setPages] = useState<ApiPage<RunResource>[]>([]);
  const first = useLoad((signal) => api.listRuns(props.exportId, undefined, signal), props.exportId);
  const [more, setMore] = useState<{ busy: boolean; error?: Error }>({ busy: false });
  if (first.state === 'loading') return <Loading what="runs" />;
  if (first.state === 'error') return <LoadError what="the runs" error={first.error} onRetry={first.reload} />;
  const loaded = [first.data, ...pages];
  const runs = loaded.flatMap((page) => page.items);
  const next = loaded.at(-1)?.continuationToken;
  if (runs.length === 0) {
    return (
      <Empty>
        <p>This export has not run yet.</p>
      </Empty>
    );
  }
  return (
    <>
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Runs, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">Status</th>
              <th scope="col">Kind</th>
              <th scope="col" className="number">
                Profiles
              </th>
              <th scope="col" className="number">
                Sent
              </th>
              <th scope="col" className="number">
                Rejected
              </th>
              <th scope="col" className="number">
                Took
              </th>
            </tr>
          </thead>
          <tbody>
            {runs.map((run) => {
              const seconds = runSeconds(run);
              return (
                <tr key={run.runId}>
                  <th scope="row">
                    <a href={href('runs', run.runId)}>{when(run.startedAt ?? run.createdAt)}</a>
                  </th>
                  <td>
                    <StatusBadge status={run.status} reason={run.reason} />
                  </td>
                  <td>
                    {run.mode === 'full' ? 'Full' : 'Changes'}
                    {run.dryRun ? ', dry run' : ''}
                    <div className="muted small">{run.trigger === 'schedule' ? 'scheduled' : 'on demand'}</div>
                  </td>
                  <td className="number">{count(run.totals.profiles)}</td>
                  <td className="number">{count(run.totals.sent)}</td>
                  <td className="number">{count(run.totals.rejected + run.totals.invalid + run.totals.duplicates)}</td>
                  <td className="number">{seconds === undefined ? '—' : duration(seconds)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {next ? (
        <p>
          <button
            type="button"
            className="secondary"
            disabled={more.busy}
            onClick={() => {
              setMore({ busy: true });
              api
                .listRuns(props.exportId, next)
                .then((page) => {
                  setPages((current) => [...current, page]);
                  setMore({ busy: false });
                })
                .catch((error: unknown) => setMore({ busy: false, error: error instanceof Error ? error : new Error(String(error)) }));
            }}
          >
            {more.busy ? 'Loading…' : 'Older runs'}
          </button>
        </p>
      ) : null}
      {more.error ? <LoadError what="older runs" error={more.error} /> : null}
    </>
  );
}
