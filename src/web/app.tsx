import { messageOf } from './hooks';
import { useCallback, useEffect, useState, type MouseEvent } from 'react';
import { ROLES, type Role } from '../domain/policy';
import { setUnauthenticatedHandler } from './api';
import { ConnectionsPage } from './pages/connections';
import { ExportEditorPage } from './pages/export-editor';
import { ExportsPage } from './pages/exports';
import { OverviewPage } from './pages/overview';
import { RunPage } from './pages/run';
import { RunsPage } from './pages/runs';
import { SegmentsPage } from './pages/segments';
import { href, useRoute, type Route } from './router';
import { loadSession, signIn, SIGN_IN_URL, SIGN_OUT_URL, switchLocalRole, type Session, type SessionState } from './session';
import { Loading, Page } from './ui';
import logo from './favicon.svg';

export function App() {
  const [state, setState] = useState<SessionState | undefined>();
  const [generation, setGeneration] = useState(0);

  const show = useCallback((next: SessionState) => {
    setState(next);
    setGeneration((current) => current + 1);
  }, []);

  /** After the role switch (or "Try again"): who is this now? */
  const refresh = useCallback(() => {
    setState(undefined);
    void loadSession().then(show);
  }, [show]);

  useEffect(() => {
    let current = true;
    void loadSession().then((next) => {
      if (current) show(next);
    });
    return () => {
      current = false;
    };
  }, [show]);

  useEffect(() => {
    // In Azure a 401 means the sign-in expired: sign in again (the local host never answers 401 to the page).
    setUnauthenticatedHandler(state?.kind === 'ready' && !state.session.local ? () => signIn() : undefined);
  }, [state]);

  if (!state) {
    return (
      <main className="boot">
        <Loading what="segment-export" />
      </main>
    );
  }
  if (state.kind === 'signing-in') {
    return (
      <main className="boot">
        <p role="status">Signing you in with Microsoft Entra ID…</p>
      </main>
    );
  }
  if (state.kind === 'sign-in-failed' || state.kind === 'error') {
    return (
      <main className="boot">
        <h1>segment-export</h1>
        {state.kind === 'error' ? (
          <p role="alert">{state.error.message}</p>
        ) : (
          <>
            <p role="alert">You are not signed in, or your account has no access to this app.</p>
            <p>
              <a className="button" href={SIGN_IN_URL}>
                Sign in with Microsoft Entra ID
              </a>
            </p>
          </>
        )}
        <p>
          <button type="button" className="secondary" onClick={refresh}>
            Try again
          </button>
        </p>
      </main>
    );
  }
  return <Shell key={generation} session={state.session} onRoleChange={refresh} />;
}

const NAV: { path: string; label: string; adminOnly?: boolean }[] = [
  { path: '', label: 'Overview' },
  { path: 'connections', label: 'Connections', adminOnly: true },
  { path: 'segments', label: 'Segments' },
  { path: 'exports', label: 'Exports' },
  { path: 'runs', label: 'Runs' },
];

function Shell(props: { session: Session; onRoleChange: () => void }) {
  const route = useRoute();
  const { me, local } = props.session;
  const isAdmin = me.roles.includes('Admin');
  const section = route.segments[0] ?? '';
  return (
    <>
      <a className="skip-link" href="#main" onClick={skipToMain}>
        Skip to content
      </a>
      <header className="top">
        <a className="brand" href={href()}>
          <img src={logo} alt="" width={24} height={24} />
          segment-export
        </a>
        <nav aria-label="Main">
          <ul>
            {NAV.filter((item) => !item.adminOnly || isAdmin).map((item) => (
              <li key={item.path}>
                <a href={href(...(item.path ? [item.path] : []))} aria-current={section === item.path ? 'page' : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span>
            <span className="visually-hidden">Signed in as </span>
            <strong>{me.name}</strong>
            <span className="role"> · {me.roles.length > 0 ? me.roles.join(', ') : 'no role'}</span>
          </span>
          {local ? <RoleSwitch role={local.role} onChange={props.onRoleChange} /> : <a href={SIGN_OUT_URL}>Sign out</a>}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {me.roles.length === 0 ? <NoRole /> : <Routes route={route} isAdmin={isAdmin} />}
      </main>
    </>
  );
}

function skipToMain(event: MouseEvent<HTMLAnchorElement>): void {
  // The fragment holds the page's route: move the focus without touching it.
  event.preventDefault();
  document.getElementById('main')?.focus();
}

function RoleSwitch(props: { role: Role; onChange: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  return (
    <div className="role-switch">
      <label htmlFor="local-role">Local role</label>
      <select
        id="local-role"
        value={props.role}
        disabled={busy}
        aria-describedby="local-role-note"
        onChange={(event) => {
          setBusy(true);
          setError(undefined);
          switchLocalRole(event.target.value as Role)
            .then(props.onChange)
            .catch((failure: unknown) => {
              setBusy(false);
              setError(messageOf(failure));
            });
        }}
      >
        {ROLES.map((role) => (
          <option key={role} value={role}>
            {role}
          </option>
        ))}
      </select>
      <span id="local-role-note" className="visually-hidden">
        Only on this machine: the local host has no sign-in and plays the role you pick.
      </span>
      {error ? <span role="alert">{error}</span> : null}
    </div>
  );
}

function NoRole() {
  return (
    <Page title="No access yet">
      <p>You are signed in, but your account holds neither the Admin nor the Contributor role of this app.</p>
      <p>Ask an Admin of the app's Entra ID registration to assign you one.</p>
    </Page>
  );
}

function Routes(props: { route: Route; isAdmin: boolean }) {
  const [section = '', id] = props.route.segments;
  switch (section) {
    case '':
      return <OverviewPage />;
    case 'connections':
      return props.isAdmin ? <ConnectionsPage /> : <AdminsOnly />;
    case 'segments':
      return <SegmentsPage />;
    case 'exports':
      if (id === 'new') return <ExportEditorPage isAdmin={props.isAdmin} />;
      if (id) return <ExportEditorPage exportId={id} isAdmin={props.isAdmin} />;
      return <ExportsPage />;
    case 'runs':
      return id ? <RunPage runId={id} /> : <RunsPage exportId={props.route.query.get('export') ?? undefined} />;
    default:
      return (
        <Page title="Page not found">
          <p>
            There is no page here. <a href={href()}>Go to the overview</a>.
          </p>
        </Page>
      );
  }
}

function AdminsOnly() {
  return (
    <Page title="Connections">
      <p>Only Admins manage connections. The exports you may run use the connections an Admin shared with Contributors.</p>
    </Page>
  );
}
