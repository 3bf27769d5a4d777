import { useRef, useState, type FormEvent } from 'react';
import type { Segment } from '../../domain/segment';
import { api, ApiError, uploadSegment } from '../api';
import { bytes, count, when } from '../format';
import { messageOf, useLoad } from '../hooks';
import { Dialog, Empty, LoadError, Loading, Notice, Page, placeOf, ProgressBar } from '../ui';

// Segments: who is in them, and uploads that replace a segment's members in one step.

const NEW = '';
const SEGMENT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function SegmentsPage() {
  const segments = useLoad((signal) => api.listSegments(signal).then((page) => page.items), 'segments');
  const [deleting, setDeleting] = useState<Segment>();
  const [done, setDone] = useState<string>();
  return (
    <Page title="Segments" lead="Customer segments, uploaded as CSV or NDJSON. Each upload replaces the segment's members at once.">
      {done ? <Notice kind="success">{done}</Notice> : null}
      <section aria-labelledby="segments-list">
        <h2 id="segments-list">All segments</h2>
        {segments.state === 'loading' ? <Loading what="segments" /> : null}
        {segments.state === 'error' ? <LoadError what="the segments" error={segments.error} onRetry={segments.reload} /> : null}
        {segments.state === 'ready' && segments.data.length === 0 ? (
          <Empty>
            <p>No segments yet. Upload a CSV file with a header row, or an NDJSON file, below.</p>
          </Empty>
        ) : null}
        {segments.state === 'ready' && segments.data.length > 0 ? (
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Segments</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col" className="number">
                    Members
                  </th>
                  <th scope="col">Fields</th>
                  <th scope="col">Version</th>
                  <th scope="col">Uploaded</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {segments.data.map((segment) => (
                  <tr key={segment.id}>
                    <th scope="row">
                      {segment.name}
                      <div className="muted small">{segment.id}</div>
                    </th>
                    <td className="number">{count(segment.memberCount)}</td>
                    <td>
                      <ul className="chips" aria-label={`Fields of ${segment.name}`}>
                        {segment.fields.map((field) => (
                          <li key={field} className={field === segment.keyField ? 'chip key' : 'chip'}>
                            {field}
                            {field === segment.keyField ? <span className="visually-hidden"> (profile key)</span> : null}
                          </li>
                        ))}
                      </ul>
                    </td>
                    <td>
                      <code className="small">{segment.version}</code>
                    </td>
                    <td>
                      {when(segment.updatedAt)}
                      <div className="muted small">{segment.updatedBy}</div>
                    </td>
                    <td className="actions">
                      <button type="button" className="danger-outline" onClick={() => setDeleting(segment)}>
                        Delete<span className="visually-hidden"> {segment.name}</span>
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </section>
      <Upload
        segments={segments.state === 'ready' ? segments.data : []}
        onUploaded={() => {
          setDone(undefined);
          segments.reload();
        }}
      />
      {deleting ? (
        <DeleteSegmentDialog
          segment={deleting}
          onClose={() => setDeleting(undefined)}
          onDeleted={() => {
            setDone(`Deleted the segment “${deleting.name}”.`);
            setDeleting(undefined);
            segments.reload();
          }}
        />
      ) : null}
    </Page>
  );
}

type Format = 'text/csv' | 'application/x-ndjson';

function formatOf(file: File): Format {
  return /\.(ndjson|jsonl|json)$/i.test(file.name) || /ndjson|jsonl/.test(file.type) ? 'application/x-ndjson' : 'text/csv';
}

type UploadState =
  | { kind: 'idle' }
  | { kind: 'uploading'; sent: number; total: number }
  | { kind: 'done'; text: string }
  | { kind: 'refused'; message: string; place: string | undefined; mappingMissing?: boolean };

function Upload(props: { segments: Segment[]; onUploaded: () => void }) {
  const [target, setTarget] = useState(NEW);
  const [segmentId, setSegmentId] = useState('');
  const [name, setName] = useState('');
  const [keyField, setKeyField] = useState('');
  const [file, setFile] = useState<File>();
  const [format, setFormat] = useState<Format>('text/csv');
  const [state, setState] = useState<UploadState>({ kind: 'idle' });
  const cancel = useRef<AbortController>(undefined);
  const idProblem = target === NEW && segmentId !== '' && !SEGMENT_ID.test(segmentId) ? '1 to 64 letters, digits, - or _, starting with a letter or digit' : undefined;
  const id = target === NEW ? segmentId : target;
  const ready = id !== '' && !idProblem && name.trim() !== '' && file !== undefined && state.kind !== 'uploading';

  const submit = (event: FormEvent) => {
    event.preventDefault();
    send(false);
  };

  const send = (force: boolean) => {
    if (!ready) return;
    const controller = new AbortController();
    cancel.current = controller;
    setState({ kind: 'uploading', sent: 0, total: file.size });
    uploadSegment({
      segmentId: id,
      name: name.trim(),
      keyField: keyField.trim() || undefined,
      file,
      contentType: format,
      force,
      signal: controller.signal,
      onProgress: (sent, total) => setState({ kind: 'uploading', sent, total }),
    })
      .then((result) => {
        const duplicates = result.duplicateKeys.count > 0 ? ` ${count(result.duplicateKeys.count)} repeated profile keys: the last record of each won.` : '';
        setState({ kind: 'done', text: `Uploaded “${result.name}”: ${count(result.memberCount)} ${result.memberCount === 1 ? 'member' : 'members'}, version ${result.version}.${duplicates}` });
        props.onUploaded();
      })
      .catch((error: unknown) => {
        if (error instanceof DOMException && error.name === 'AbortError') {
          setState({ kind: 'refused', message: 'The upload was cancelled; the segment did not change.', place: undefined });
          return;
        }
        const place = error instanceof ApiError ? placeOf(error.details) : undefined;
        setState({ kind: 'refused', message: messageOf(error), place, mappingMissing: error instanceof ApiError && error.code === 'mapping_field_missing' });
      });
  };

  return (
    <section aria-labelledby="upload-segment" className="card">
      <h2 id="upload-segment">Upload a segment</h2>
      <form onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor="upload-target">Upload to</label>
          <select
            id="upload-target"
            value={target}
            onChange={(event) => {
              setTarget(event.target.value);
              const existing = props.segments.find((segment) => segment.id === event.target.value);
              if (existing) {
                setName(existing.name);
                setKeyField(existing.keyField);
              }
            }}
          >
            <option value={NEW}>A new segment</option>
            {props.segments.map((segment) => (
              <option key={segment.id} value={segment.id}>
                {segment.name} ({segment.id}): replace its members
              </option>
            ))}
          </select>
        </div>
        {target === NEW ? (
          <div className="field">
            <label htmlFor="upload-id">Segment ID</label>
            <input
              id="upload-id"
              value={segmentId}
              spellCheck={false}
              aria-invalid={idProblem ? true : undefined}
              aria-describedby="upload-id-note"
              onChange={(event) => setSegmentId(event.target.value)}
            />
            <p id="upload-id-note" className={idProblem ? 'hint problem' : 'hint'}>
              {idProblem ?? 'A stable ID, used in the API and by exports: letters, digits, - or _.'}
            </p>
          </div>
        ) : null}
        <div className="field">
          <label htmlFor="upload-name">Name</label>
          <input id="upload-name" value={name} maxLength={200} onChange={(event) => setName(event.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="upload-file">File</label>
          <input
            id="upload-file"
            type="file"
            accept=".csv,.ndjson,.jsonl,text/csv,application/x-ndjson"
            onChange={(event) => {
              const chosen = event.target.files?.[0];
              setFile(chosen);
              if (chosen) setFormat(formatOf(chosen));
            }}
          />
        </div>
        <div className="field">
          <label htmlFor="upload-format">Format</label>
          <select id="upload-format" value={format} onChange={(event) => setFormat(event.target.value as Format)}>
            <option value="text/csv">CSV with a header row</option>
            <option value="application/x-ndjson">NDJSON: one JSON object a line</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="upload-key">Profile key field (optional)</label>
          <input id="upload-key" value={keyField} aria-describedby="upload-key-note" onChange={(event) => setKeyField(event.target.value)} />
          <p id="upload-key-note" className="hint">
            The field that identifies a person. Left empty: CustomerId, or else id.
          </p>
        </div>
        <div className="form-actions">
          <button type="submit" disabled={!ready}>
            Upload
          </button>
          {state.kind === 'uploading' ? (
            <button type="button" className="secondary" onClick={() => cancel.current?.abort()}>
              Cancel upload
            </button>
          ) : null}
        </div>
        {state.kind === 'uploading' ? (
          <ProgressBar
            percent={state.total === 0 ? 0 : (state.sent / state.total) * 100}
            label={`Uploading ${file?.name ?? 'the file'}`}
            detail={`${bytes(state.sent)} of ${bytes(state.total)} sent`}
          />
        ) : null}
        {state.kind === 'done' ? <Notice kind="success">{state.text}</Notice> : null}
        {state.kind === 'refused' ? (
          <Notice kind="error">
            <p>
              <strong>The upload was refused{state.place ? ` at ${state.place}` : ''}.</strong> {state.message}
            </p>
            <p>
              {state.mappingMissing
                ? 'The segment did not change. Fix the file, or change those exports’ field mapping first. Uploaded anyway, the exports’ runs fail, sending and removing nothing, until the field is back.'
                : 'The segment did not change: fix the file and upload it again.'}
            </p>
          </Notice>
        ) : null}
        {state.kind === 'refused' && state.mappingMissing ? (
          <div className="form-actions">
            <button type="button" className="danger-outline" onClick={() => send(true)}>
              Upload anyway
            </button>
          </div>
        ) : null}
      </form>
    </section>
  );
}

function DeleteSegmentDialog(props: { segment: Segment; onClose: () => void; onDeleted: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  return (
    <Dialog title={`Delete the segment “${props.segment.name}”?`} onClose={props.onClose}>
      <p>Its {count(props.segment.memberCount)} members are deleted here; what exports already sent stays at the providers.</p>
      {error ? <Notice kind="error">{error}</Notice> : null}
      <div className="form-actions">
        <button
          type="button"
          className="danger"
          disabled={busy}
          onClick={() => {
            setBusy(true);
            api
              .deleteSegment(props.segment.id)
              .then(props.onDeleted)
              .catch((failure: unknown) => {
                setBusy(false);
                setError(messageOf(failure));
              });
          }}
        >
          {busy ? 'Deleting…' : 'Delete segment'}
        </button>
        <button type="button" className="secondary" onClick={props.onClose}>
          Cancel
        </button>
      </div>
    </Dialog>
  );
}
