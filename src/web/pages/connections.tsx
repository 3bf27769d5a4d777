import { useId, useState, type FormEvent } from 'react';
import { ITERABLE_REGIONS, type IterableRegion, type PublicConnection } from '../../domain/connection';
import type { ExportResource } from '../../domain/export';
import { PROVIDER_NAMES, type ProviderName } from '../../providers/types';
import { api, ApiError } from '../api';
import { providerLabel, when } from '../format';
import { messageOf, useLoad } from '../hooks';
import { PRIVACY_TERMS } from '../privacy';
import { Dialog, Empty, fieldProblems, LoadError, Loading, Notice, Page } from '../ui';

// Admins only: the provider accounts exports send to. A key goes to the provider first ("Connect"),
// then to Key Vault, and is never shown again.

interface Data {
  connections: PublicConnection[];
  exports: ExportResource[];
}

async function loadData(signal: AbortSignal): Promise<Data> {
  const [connections, exports] = await Promise.all([api.listConnections(signal), api.listExports(signal)]);
  return { connections: connections.items, exports: exports.items };
}

export function ConnectionsPage() {
  const data = useLoad(loadData, 'connections');
  const [rotating, setRotating] = useState<PublicConnection>();
  const [deleting, setDeleting] = useState<PublicConnection>();
  const [done, setDone] = useState<string>();

  return (
    <Page title="Connections" lead="The provider accounts that exports send segments to.">
      {done ? <Notice kind="success">{done}</Notice> : null}
      <section aria-labelledby="connections-list">
        <h2 id="connections-list">All connections</h2>
        {data.state === 'loading' ? <Loading what="connections" /> : null}
        {data.state === 'error' ? <LoadError what="the connections" error={data.error} onRetry={data.reload} /> : null}
        {data.state === 'ready' && data.data.connections.length === 0 ? (
          <Empty>
            <p>No connections yet. Add one below with an API key of your Iterable, Brevo or Omnisend account.</p>
          </Empty>
        ) : null}
        {data.state === 'ready' && data.data.connections.length > 0 ? (
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Connections</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Provider</th>
                  <th scope="col">Contributors</th>
                  <th scope="col">Exports</th>
                  <th scope="col">Terms accepted</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {data.data.connections.map((connection) => (
                  <tr key={connection.id}>
                    <th scope="row">
                      {connection.displayName}
                      <div className="muted small">{connection.id}</div>
                    </th>
                    <td>
                      {providerLabel(connection.provider)}
                      {connection.options.region ? <span className="muted"> ({connection.options.region.toUpperCase()})</span> : null}
                    </td>
                    <td>{connection.allowContributors ? 'May use it' : 'Admins only'}</td>
                    <td>{data.data.exports.filter((item) => item.connectionId === connection.id).length}</td>
                    <td>{connection.consent ? `${connection.consent.acceptedBy}, ${when(connection.consent.acceptedAt)}` : '—'}</td>
                    <td className="actions">
                      <button type="button" className="secondary" onClick={() => setRotating(connection)}>
                        Rotate key<span className="visually-hidden"> of {connection.displayName}</span>
                      </button>
                      <button type="button" className="danger-outline" onClick={() => setDeleting(connection)}>
                        Delete<span className="visually-hidden"> {connection.displayName}</span>
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </section>
      <AddConnection
        onAdded={(message) => {
          setDone(message);
          data.reload();
        }}
      />
      {rotating ? <RotateKeyDialog connection={rotating} onClose={() => setRotating(undefined)} /> : null}
      {deleting && data.state === 'ready' ? (
        <DeleteDialog
          connection={deleting}
          exports={data.data.exports.filter((item) => item.connectionId === deleting.id)}
          onClose={() => setDeleting(undefined)}
          onDeleted={(message) => {
            setDeleting(undefined);
            setDone(message);
            data.reload();
          }}
        />
      ) : null}
    </Page>
  );
}

/** The key check's answer in words. */
function keyRefusal(provider: ProviderName, error: unknown): string {
  const name = providerLabel(provider);
  if (error instanceof ApiError && error.code === 'provider_auth_failed') {
    return `${name} refused this API key, so nothing was saved. Check that you copied the whole key, from the right account, and try again.`;
  }
  if (error instanceof ApiError && error.code === 'provider_unavailable') {
    return `${name} could not be reached to check the key, so nothing was saved. Try again in a moment.`;
  }
  const problems = fieldProblems(error);
  if (problems.length > 0) return problems.map((problem) => `${problem.path}: ${problem.message}`).join('; ');
  return messageOf(error);
}

function AddConnection(props: { onAdded: (message: string) => void }) {
  const [provider, setProvider] = useState<ProviderName>('iterable');
  const [displayName, setDisplayName] = useState('');
  const [apiKey, setApiKey] = useState('');
  const [region, setRegion] = useState<IterableRegion>('us');
  const [allowContributors, setAllowContributors] = useState(false);
  const [accepted, setAccepted] = useState(false);
  const [checking, setChecking] = useState(false);
  const [refusal, setRefusal] = useState<string>();
  const termsId = useId();
  const terms = PRIVACY_TERMS[provider];
  const ready = accepted && displayName.trim() !== '' && apiKey.trim() !== '' && !checking;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!ready) return;
    setChecking(true);
    setRefusal(undefined);
    api
      .createConnection({
        provider,
        displayName: displayName.trim(),
        apiKey: apiKey.trim(),
        allowContributors,
        acceptPrivacyTerms: true,
        ...(provider === 'iterable' ? { options: { region } } : {}),
      })
      .then((created) => {
        setDisplayName('');
        setApiKey('');
        setAccepted(false);
        setAllowContributors(false);
        props.onAdded(`${providerLabel(provider)} accepted the API key: “${created.displayName}” is connected. The key is stored and is not shown again.`);
      })
      .catch((error: unknown) => setRefusal(keyRefusal(provider, error)))
      .finally(() => setChecking(false));
  };

  return (
    <section aria-labelledby="add-connection" className="card">
      <h2 id="add-connection">Add a connection</h2>
      <form onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor="connection-provider">Provider</label>
          <select
            id="connection-provider"
            value={provider}
            onChange={(event) => {
              setProvider(event.target.value as ProviderName);
              setAccepted(false);
              setRefusal(undefined);
            }}
          >
            {PROVIDER_NAMES.map((name) => (
              <option key={name} value={name}>
                {providerLabel(name)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="connection-name">Display name</label>
          <input id="connection-name" value={displayName} maxLength={256} required onChange={(event) => setDisplayName(event.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="connection-key">API key</label>
          <input
            id="connection-key"
            type="password"
            autoComplete="off"
            spellCheck={false}
            value={apiKey}
            required
            aria-describedby="connection-key-note"
            onChange={(event) => setApiKey(event.target.value)}
          />
          <p id="connection-key-note" className="hint">
            Checked with {providerLabel(provider)} when you connect, then kept in the app's secret store (Key Vault in Azure). It is never shown again.
          </p>
        </div>
        {provider === 'iterable' ? (
          <div className="field">
            <label htmlFor="connection-region">Iterable data centre</label>
            <select id="connection-region" value={region} onChange={(event) => setRegion(event.target.value as IterableRegion)}>
              {ITERABLE_REGIONS.map((name) => (
                <option key={name} value={name}>
                  {name === 'us' ? 'United States' : 'Europe'}
                </option>
              ))}
            </select>
          </div>
        ) : null}
        <div className="field checkbox">
          <input id="connection-contributors" type="checkbox" checked={allowContributors} onChange={(event) => setAllowContributors(event.target.checked)} />
          <label htmlFor="connection-contributors">Contributors may create and run exports on this connection</label>
        </div>
        <fieldset className="terms">
          <legend>{providerLabel(provider)} and your members' data</legend>
          <div id={termsId}>
            <p>The data is kept {terms.where}.</p>
            {terms.paragraphs.map((paragraph) => (
              <p key={paragraph}>{paragraph}</p>
            ))}
          </div>
          <div className="field checkbox">
            <input
              id="connection-accept"
              type="checkbox"
              checked={accepted}
              aria-describedby={termsId}
              onChange={(event) => setAccepted(event.target.checked)}
            />
            <label htmlFor="connection-accept">I accept these terms for this connection</label>
          </div>
        </fieldset>
        <div className="form-actions">
          <button type="submit" disabled={!ready}>
            {checking ? `Checking the key with ${providerLabel(provider)}…` : 'Connect'}
          </button>
          {!accepted ? <span className="hint">Accept the terms to connect.</span> : null}
        </div>
        {checking ? <p role="status" className="visually-hidden">Checking the key with {providerLabel(provider)}</p> : null}
        {refusal ? <Notice kind="error">{refusal}</Notice> : null}
      </form>
    </section>
  );
}

function RotateKeyDialog(props: { connection: PublicConnection; onClose: () => void }) {
  const { connection } = props;
  const [apiKey, setApiKey] = useState('');
  const [checking, setChecking] = useState(false);
  const [answer, setAnswer] = useState<{ kind: 'success' | 'error'; text: string }>();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (apiKey.trim() === '') return;
    setChecking(true);
    setAnswer(undefined);
    api
      .updateConnection(connection.id, { apiKey: apiKey.trim() })
      .then(() => {
        setApiKey('');
        setAnswer({ kind: 'success', text: `${providerLabel(connection.provider)} accepted the new key. Runs use it from now on.` });
      })
      .catch((error: unknown) => setAnswer({ kind: 'error', text: keyRefusal(connection.provider, error) }))
      .finally(() => setChecking(false));
  };
  return (
    <Dialog title={`Rotate the key of “${connection.displayName}”`} onClose={props.onClose}>
      <form onSubmit={submit}>
        <div className="field">
          <label htmlFor="rotate-key">New API key</label>
          <input id="rotate-key" type="password" autoComplete="off" value={apiKey} onChange={(event) => setApiKey(event.target.value)} />
          <p className="hint">The new key is checked with {providerLabel(connection.provider)} before it replaces the old one.</p>
        </div>
        {answer ? <Notice kind={answer.kind}>{answer.text}</Notice> : null}
        <div className="form-actions">
          <button type="submit" disabled={checking || apiKey.trim() === ''}>
            {checking ? 'Checking…' : 'Check and save the key'}
          </button>
          <button type="button" className="secondary" onClick={props.onClose}>
            {answer?.kind === 'success' ? 'Close' : 'Cancel'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function DeleteDialog(props: { connection: PublicConnection; exports: ExportResource[]; onClose: () => void; onDeleted: (message: string) => void }) {
  const { connection, exports } = props;
  const [force, setForce] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const blocked = exports.length > 0 && !force;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (blocked) return;
    setBusy(true);
    setError(undefined);
    api
      .deleteConnection(connection.id, force)
      .then(() =>
        props.onDeleted(
          exports.length > 0
            ? `Deleted “${connection.displayName}” and its ${exports.length} export(s).`
            : `Deleted “${connection.displayName}”.`,
        ),
      )
      .catch((failure: unknown) => {
        setBusy(false);
        setError(messageOf(failure));
      });
  };
  return (
    <Dialog title={`Delete “${connection.displayName}”?`} onClose={props.onClose}>
      <form onSubmit={submit}>
        <p>Its API key is deleted from Key Vault. What it already sent stays at {providerLabel(connection.provider)}.</p>
        {exports.length > 0 ? (
          <>
            <p>These exports use it and would be deleted with it:</p>
            <ul>
              {exports.map((item) => (
                <li key={item.id}>{item.name}</li>
              ))}
            </ul>
            <div className="field checkbox">
              <input id="delete-force" type="checkbox" checked={force} onChange={(event) => setForce(event.target.checked)} />
              <label htmlFor="delete-force">Also delete these {exports.length} export(s)</label>
            </div>
          </>
        ) : (
          <p>No export uses it.</p>
        )}
        {error ? <Notice kind="error">{error}</Notice> : null}
        <div className="form-actions">
          <button type="submit" className="danger" disabled={busy || blocked}>
            {busy ? 'Deleting…' : 'Delete connection'}
          </button>
          <button type="button" className="secondary" onClick={props.onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
