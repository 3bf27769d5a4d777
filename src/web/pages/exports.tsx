import type { PublicConnection } from '../../domain/connection';
import type { ExportResource } from '../../domain/export';
import type { RunResource } from '../../domain/run';
import type { Segment } from '../../domain/segment';
import { api } from '../api';
import { providerLabel, when } from '../format';
import { useLoad } from '../hooks';
import { href } from '../router';
import { Empty, LoadError, Loading, Page, StatusBadge } from '../ui';

// Every export the caller may see, with how its last run went.

export interface ExportRow {
  export: ExportResource;
  connection: PublicConnection | undefined;
  lastRun: RunResource | undefined;
}

/** Exports with their connection and newest run (one history read per export). */
export async function loadExportRows(signal: AbortSignal): Promise<{ rows: ExportRow[]; segments: Segment[] }> {
  const [exports, connections, segments] = await Promise.all([api.listExports(signal), api.listConnections(signal), api.listSegments(signal)]);
  const rows = await Promise.all(
    exports.items.map(async (item) => ({
      export: item,
      connection: connections.items.find((connection) => connection.id === item.connectionId),
      lastRun: (await api.listRuns(item.id, undefined, signal)).items[0],
    })),
  );
  return { rows, segments: segments.items };
}

export function ExportsPage() {
  const data = useLoad(loadExportRows, 'exports');
  return (
    <Page
      title="Exports"
      lead="Which segments go to which provider account, with which fields. Saving an export runs nothing."
      actions={
        <a className="button" href={href('exports', 'new')}>
          New export
        </a>
      }
    >
      {data.state === 'loading' ? <Loading what="exports" /> : null}
      {data.state === 'error' ? <LoadError what="the exports" error={data.error} onRetry={data.reload} /> : null}
      {data.state === 'ready' && data.data.rows.length === 0 ? (
        <Empty>
          <p>
            No exports yet. <a href={href('exports', 'new')}>Create one</a>: pick a connection, segments and the fields to send.
          </p>
        </Empty>
      ) : null}
      {data.state === 'ready' && data.data.rows.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Exports</caption>
            <thead>
              <tr>
                <th scope="col">Export</th>
                <th scope="col">Sends to</th>
                <th scope="col">Segments</th>
                <th scope="col">Last run</th>
              </tr>
            </thead>
            <tbody>
              {data.data.rows.map((row) => (
                <tr key={row.export.id}>
                  <th scope="row">
                    <a href={href('exports', row.export.id)}>{row.export.name}</a>
                  </th>
                  <td>
                    {providerLabel(row.export.provider)}
                    <div className="muted small">{row.connection?.displayName ?? row.export.connectionId}</div>
                  </td>
                  <td>
                    {row.export.segmentIds
                      .map((segmentId) => data.data.segments.find((segment) => segment.id === segmentId)?.name ?? segmentId)
                      .join(', ')}
                  </td>
                  <td>
                    {row.lastRun ? (
                      <>
                        <StatusBadge status={row.lastRun.status} reason={row.lastRun.reason} />{' '}
                        <a href={href('runs', row.lastRun.runId)}>
                          {when(row.lastRun.finishedAt ?? row.lastRun.createdAt)}
                          <span className="visually-hidden"> (open the run)</span>
                        </a>
                      </>
                    ) : (
                      <span className="muted">Never run</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </Page>
  );
}
