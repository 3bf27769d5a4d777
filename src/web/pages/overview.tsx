import { useMemo } from 'react';
import type { ExportResource } from '../../domain/export';
import type { RunResource } from '../../domain/run';
import { api } from '../api';
import { RunsChart, type RunBar } from '../chart';
import { count, providerLabel, when } from '../format';
import { useLoad } from '../hooks';
import { href } from '../router';
import { Empty, LoadError, Loading, Page, StatusBadge } from '../ui';

// Every export's last run at a glance, and what the last 30 days sent and rejected.

const DAYS = 30;

interface ExportRuns {
  export: ExportResource;
  runs: RunResource[];
}

async function loadOverview(signal: AbortSignal): Promise<{ exports: ExportRuns[]; since: number }> {
  const since = Date.now() - DAYS * 24 * 3600 * 1000;
  const exports = await api.listExports(signal);
  const withRuns = await Promise.all(exports.items.map(async (item) => ({ export: item, runs: (await api.listRuns(item.id, undefined, signal)).items })));
  return { exports: withRuns, since };
}

const rejectedOf = (run: RunResource) => run.totals.rejected + run.totals.invalid + run.totals.duplicates;
const shortDate = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });

export function OverviewPage() {
  const data = useLoad(loadOverview, 'overview');
  const recent = useMemo(() => {
    if (data.state !== 'ready') return [];
    const { since } = data.data;
    return data.data.exports
      .flatMap((item) => item.runs.filter((run) => !run.dryRun && Date.parse(run.createdAt) >= since).map((run) => ({ run, name: item.export.name })))
      .sort((a, b) => a.run.createdAt.localeCompare(b.run.createdAt));
  }, [data]);
  const bars: RunBar[] = useMemo(
    () => recent.map(({ run, name }) => ({ label: `${shortDate.format(new Date(run.createdAt))} ${name}`, sent: run.totals.sent, rejected: rejectedOf(run) })),
    [recent],
  );
  const sent = recent.reduce((sum, { run }) => sum + run.totals.sent, 0);
  const rejected = recent.reduce((sum, { run }) => sum + rejectedOf(run), 0);

  return (
    <Page title="Overview" lead="How every export's last run went, and what the last 30 days sent.">
      {data.state === 'loading' ? <Loading what="the overview" /> : null}
      {data.state === 'error' ? <LoadError what="the overview" error={data.error} onRetry={data.reload} /> : null}
      {data.state === 'ready' && data.data.exports.length === 0 ? (
        <Empty>
          <p>
            Nothing to show yet. Upload a <a href={href('segments')}>segment</a>, create an <a href={href('exports', 'new')}>export</a> and run it.
          </p>
        </Empty>
      ) : null}
      {data.state === 'ready' && data.data.exports.length > 0 ? (
        <>
          <dl className="tiles">
            <div>
              <dt>Exports</dt>
              <dd>{count(data.data.exports.length)}</dd>
            </div>
            <div>
              <dt>Runs, last {DAYS} days</dt>
              <dd>{count(recent.length)}</dd>
            </div>
            <div>
              <dt>Records sent</dt>
              <dd>{count(sent)}</dd>
            </div>
            <div>
              <dt>Records rejected</dt>
              <dd>{count(rejected)}</dd>
            </div>
          </dl>
          <section aria-labelledby="overview-last" className="card">
            <h2 id="overview-last">Last runs</h2>
            <div className="table-wrap">
              <table>
                <caption className="visually-hidden">The last run of every export</caption>
                <thead>
                  <tr>
                    <th scope="col">Export</th>
                    <th scope="col">Provider</th>
                    <th scope="col">Last run</th>
                    <th scope="col">When</th>
                    <th scope="col" className="number">
                      Sent
                    </th>
                    <th scope="col" className="number">
                      Rejected
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {data.data.exports.map(({ export: item, runs }) => {
                    const last = runs[0];
                    return (
                      <tr key={item.id}>
                        <th scope="row">
                          <a href={href('exports', item.id)}>{item.name}</a>
                        </th>
                        <td>{providerLabel(item.provider)}</td>
                        <td>{last ? <StatusBadge status={last.status} reason={last.reason} /> : <span className="muted">Never run</span>}</td>
                        <td>{last ? <a href={href('runs', last.runId)}>{when(last.finishedAt ?? last.createdAt)}</a> : '—'}</td>
                        <td className="number">{last ? count(last.totals.sent) : '—'}</td>
                        <td className="number">{last ? count(rejectedOf(last)) : '—'}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          </section>
          <section aria-labelledby="overview-chart" className="card">
            <h2 id="overview-chart">Sent and rejected per run, last {DAYS} days</h2>
            {bars.length === 0 ? (
              <Empty>
                <p>No run in the last {DAYS} days.</p>
              </Empty>
            ) : (
              <>
                <RunsChart bars={bars} summary={`Bar chart of ${bars.length} ${bars.length === 1 ? 'run' : 'runs'}: ${count(sent)} records sent and ${count(rejected)} rejected in all.`} />
                <details>
                  <summary>The numbers behind the chart</summary>
                  <div className="table-wrap">
                    <table>
                      <caption className="visually-hidden">Sent and rejected per run</caption>
                      <thead>
                        <tr>
                          <th scope="col">Run</th>
                          <th scope="col" className="number">
                            Sent
                          </th>
                          <th scope="col" className="number">
                            Rejected
                          </th>
                        </tr>
                      </thead>
                      <tbody>
                        {recent.map(({ run, name }) => (
                          <tr key={run.runId}>
                            <th scope="row">
                              <a href={href('runs', run.runId)}>
                                {when(run.createdAt)}, {name}
                              </a>
                            </th>
                            <td className="number">{count(run.totals.sent)}</td>
                            <td className="number">{count(rejectedOf(run))}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                </details>
              </>
            )}
          </section>
        </>
      ) : null}
    </Page>
  );
}
