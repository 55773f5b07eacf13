import { useEffect, useState, type ReactNode } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError, get, getToken, setToken, setUnauthorizedHandler } from './lib/api';
import { duration } from './lib/format';
import type { Operation, Session } from './lib/types';
import { useLiveEvents } from './live';
import { Link, match, useRouter } from './router';
import { can, SessionContext } from './session';
import { Loading, Progress } from './ui';
import { SignInPage } from './pages/sign-in';
import { OverviewPage } from './pages/overview';
import { HostsPage, HostPage } from './pages/hosts';
import { InstancesPage } from './pages/instances';
import { InstancePage } from './pages/instance';
import { CreatePage } from './pages/create';
import { OperationsPage, OperationPage } from './pages/operations';
import { AdminPage } from './pages/admin';

type Theme = 'light' | 'dark' | 'system';

function useTheme(): [Theme, (t: Theme) => void] {
  const [theme, set] = useState<Theme>(() => (localStorage.getItem('hyperplane.theme') as Theme | null) ?? 'system');
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem('hyperplane.theme', theme);
  }, [theme]);
  return [theme, set];
}

export function App(): ReactNode {
  const { path, navigate } = useRouter();
  const qc = useQueryClient();
  const [token, setTok] = useState<string | null>(getToken);
  const [theme, setTheme] = useTheme();
  const session = useQuery({ queryKey: ['session', token], queryFn: () => get<Session>('/v1/session'), enabled: !!token, staleTime: Infinity, retry: false });

  const signOut = (): void => {
    setToken(null);
    setTok(null);
    qc.clear();
    navigate('/sign-in');
  };
  useEffect(() => setUnauthorizedHandler(signOut));

  if (!token || (session.error instanceof ApiError && session.error.status === 401)) {
    return (
      <SignInPage
        theme={theme}
        onSignedIn={(t) => {
          setToken(t);
          setTok(t);
          if (path === '/sign-in' || path === '/') navigate('/overview', { replace: true });
        }}
      />
    );
  }
  if (!session.data) return <Loading what="your session" />;
  return (
    <SessionContext.Provider value={session.data}>
      <Shell session={session.data} token={token} onSignOut={signOut} theme={theme} setTheme={setTheme} />
    </SessionContext.Provider>
  );
}

const NAV: { to: string; label: string; icon: string; fleet?: boolean; admin?: boolean; change?: boolean }[] = [
  { to: '/overview', label: 'Overview', icon: '◎' },
  { to: '/hosts', label: 'Hosts', icon: '▤', fleet: true },
  { to: '/instances', label: 'Instances', icon: '◫' },
  { to: '/create', label: 'Create', icon: '+', change: true },
  { to: '/operations', label: 'Operations', icon: '↻' },
  { to: '/admin', label: 'Administration', icon: '⚙', admin: true },
];

function Shell({ session, token, onSignOut, theme, setTheme }: { session: Session; token: string; onSignOut: () => void; theme: Theme; setTheme: (t: Theme) => void }): ReactNode {
  const { path, navigate } = useRouter();
  const live = useLiveEvents(token);
  const rights = can(session);
  useEffect(() => {
    if (path === '/' || path === '/sign-in') navigate('/overview', { replace: true });
  }, [path, navigate]);
  const nav = NAV.filter((n) => (!n.fleet || rights.hosts) && (!n.admin || rights.admin) && (!n.change || rights.change));
  const scope = session.projects ? `project ${session.projects.map((p) => p.name).join(', ')}` : 'fleet-wide';
  return (
    <div className="shell">
      <aside className="sidebar">
        <Link to="/overview" className="brand">
          <img src="/favicon.svg" alt="" width={26} height={26} /> Hyperplane
        </Link>
        <nav aria-label="Main">
          {nav.map((n) => (
            <Link key={n.to} to={n.to} className={path.startsWith(n.to) ? 'active' : ''} aria-current={path.startsWith(n.to) ? 'page' : undefined}>
              <span className="nav-icon" aria-hidden>
                {n.icon}
              </span>
              {n.label}
            </Link>
          ))}
        </nav>
        <div className="sidebar-foot">
          <div className="who" data-testid="who">
            <strong>{session.name}</strong>
            <span>
              {session.role} · {scope}
            </span>
          </div>
          <div className="row">
            <select aria-label="Theme" value={theme} onChange={(e) => setTheme(e.target.value as Theme)}>
              <option value="system">Auto theme</option>
              <option value="light">Light</option>
              <option value="dark">Dark</option>
            </select>
            <button className="ghost" onClick={onSignOut}>
              Sign out
            </button>
          </div>
        </div>
      </aside>
      <main className="content">
        <div className={`live-dot ${live}`} title={`Event stream: ${live}`} data-live={live}>
          {live === 'live' ? 'Live' : live === 'connecting' ? 'Connecting…' : 'Offline — retrying'}
        </div>
        <Page path={path} />
      </main>
      <RunningPanel />
    </div>
  );
}

function Page({ path }: { path: string }): ReactNode {
  let m: Record<string, string> | null;
  if (path.startsWith('/overview')) return <OverviewPage />;
  if ((m = match('/hosts/:id', path))) return <HostPage id={m.id!} />;
  if (path.startsWith('/hosts')) return <HostsPage />;
  if ((m = match('/instances/:id', path))) return <InstancePage id={m.id!} />;
  if (path.startsWith('/instances')) return <InstancesPage />;
  if (path.startsWith('/create')) return <CreatePage />;
  if ((m = match('/operations/:id', path))) return <OperationPage id={m.id!} />;
  if (path.startsWith('/operations')) return <OperationsPage />;
  if (path.startsWith('/admin')) return <AdminPage />;
  return <OverviewPage />;
}

/** Always visible, as in Proxmox: what is queued or running now. */
function RunningPanel(): ReactNode {
  // Open while something runs, unless the user says otherwise.
  const [pref, setPref] = useState<boolean | null>(null);
  const ops = useQuery({
    queryKey: ['operations', 'active'],
    queryFn: async () => {
      const [running, queued] = await Promise.all([get<{ items: Operation[] }>('/v1/operations?status=running&limit=20'), get<{ items: Operation[] }>('/v1/operations?status=queued&limit=20')]);
      return [...running.items, ...queued.items];
    },
    refetchInterval: 15_000,
  });
  // An event may have finished one since the last fetch (the refetch that drops it is debounced).
  const items = (ops.data ?? []).filter((o) => o.status === 'queued' || o.status === 'running');
  const open = pref ?? items.length > 0;
  return (
    <aside className={`running ${open ? 'open' : ''}`} aria-label="Operations in flight" data-testid="running-panel">
      <button className="running-head" onClick={() => setPref(!open)} aria-expanded={open}>
        <span>
          Operations in flight <span className="count">{items.length}</span>
        </span>
        <span aria-hidden>{open ? '▾' : '▸'}</span>
      </button>
      {open ? (
        <ul>
          {items.length === 0 ? <li className="muted">Nothing queued or running.</li> : null}
          {items.slice(0, 8).map((o) => (
            <li key={o.id}>
              <Link to={`/operations/${o.id}`}>
                <span className="op-kind">{o.kind}</span> <span className="muted">{o.step}</span>
              </Link>
              <Progress value={o.progress} />
              <span className="muted small">{duration(o.startedAt ?? o.createdAt, null)}</span>
            </li>
          ))}
        </ul>
      ) : null}
    </aside>
  );
}
