import { memo, useCallback, useMemo, useRef, useState, type ReactNode } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useVirtualizer } from '@tanstack/react-virtual';
import { api, ApiError, get, getAll } from '../lib/api';
import { applyFilter, filterFromSearch, searchFromFilter, type InstanceFilter } from '../lib/filters';
import { age, formatMiB, technologyLabel } from '../lib/format';
import type { Host, Instance, Template } from '../lib/types';
import { Link, useRouter } from '../router';
import { can, useSession } from '../session';
import { Badge, Empty, ErrorNote, Loading } from '../ui';

const STATES = ['pending', 'creating', 'running', 'stopped', 'suspended', 'unschedulable', 'failed', 'deleting'];

export function useInstances(): ReturnType<typeof useQuery<Instance[]>> {
  const qc = useQueryClient();
  return useQuery({
    queryKey: ['instances'],
    // Pages land in the cache as they arrive, so a fleet of thousands shows its first rows at once.
    queryFn: () => getAll<Instance>('/v1/instances', (soFar) => qc.setQueryData(['instances'], soFar)),
    refetchInterval: 60_000,
  });
}

export function useLookups(): { hosts: Map<string, { os: string; name: string }>; projects: Map<string, string>; templateOs: Map<string, string>; templates: Template[]; hostList: Host[] } {
  const session = useSession();
  const hosts = useQuery({ queryKey: ['hosts'], queryFn: () => getAll<Host>('/v1/hosts'), enabled: session.fleetWide });
  const templates = useQuery({ queryKey: ['templates'], queryFn: () => get<{ items: Template[] }>('/v1/templates').then((r) => r.items), staleTime: 300_000 });
  return useMemo(
    () => ({
      hosts: new Map((hosts.data ?? []).map((h) => [h.id, { os: h.os, name: h.name }])),
      projects: new Map(session.visibleProjects.map((p) => [p.id, p.name])),
      templateOs: new Map((templates.data ?? []).map((t) => [t.name, t.osFamily ?? ''])),
      templates: templates.data ?? [],
      hostList: hosts.data ?? [],
    }),
    [hosts.data, templates.data, session.visibleProjects],
  );
}

const ROW = 40;

export function InstancesPage(): ReactNode {
  const { search, navigate } = useRouter();
  const session = useSession();
  const rights = can(session);
  const filter = filterFromSearch(search);
  const [q, setQ] = useState(filter.q);
  const instances = useInstances();
  const ctx = useLookups();
  const rows = useMemo(() => applyFilter(instances.data ?? [], { ...filter, q }, ctx), [instances.data, search, q, ctx]);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [bulk, setBulk] = useState<{ done: number; total: number; errors: string[] } | null>(null);
  const parent = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({ count: rows.length, getScrollElement: () => parent.current, estimateSize: () => ROW, overscan: 12 });
  const set = (k: keyof InstanceFilter, v: string): void => navigate(`/instances${searchFromFilter({ ...filter, q, [k]: v })}`, { replace: true });

  const runBulk = async (action: 'start' | 'stop' | 'delete'): Promise<void> => {
    const ids = [...selected];
    const state = { done: 0, total: ids.length, errors: [] as string[] };
    setBulk({ ...state });
    // A few at a time: each is its own queued operation, followed on the operations panel.
    const queue = ids.slice();
    const worker = async (): Promise<void> => {
      for (let id = queue.shift(); id; id = queue.shift()) {
        try {
          await api(action === 'delete' ? 'DELETE' : 'POST', action === 'delete' ? `/v1/instances/${id}` : `/v1/instances/${id}/actions/${action}`, action === 'delete' ? undefined : {});
        } catch (e) {
          const name = instances.data?.find((i) => i.id === id)?.name ?? id;
          state.errors.push(`${name}: ${e instanceof ApiError ? e.detail || e.title : String(e)}`);
        }
        state.done++;
        setBulk({ ...state, errors: state.errors.slice() });
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    setSelected(new Set());
  };

  const toggle = useCallback((id: string) => {
    setSelected((prev) => {
      const next = new Set(prev);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  }, []);
  const allSelected = rows.length > 0 && rows.every((r) => selected.has(r.id));
  return (
    <div className="page page-fill" data-page="instances">
      <header className="page-head">
        <h1>
          Instances <span className="muted count-label">{instances.data ? `${rows.length} of ${instances.data.length}` : ''}</span>
        </h1>
        {rights.change ? (
          <Link to="/create" className="button primary">
            Create
          </Link>
        ) : null}
      </header>
      <div className="filters" role="search">
        <input type="search" placeholder="Search name, id, template, host…" aria-label="Search instances" value={q} onChange={(e) => setQ(e.target.value)} onBlur={() => set('q', q)} onKeyDown={(e) => e.key === 'Enter' && set('q', q)} />
        <select aria-label="State" value={filter.state} onChange={(e) => set('state', e.target.value)}>
          <option value="">Any state</option>
          {STATES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
        <select aria-label="Technology" value={filter.technology} onChange={(e) => set('technology', e.target.value)}>
          <option value="">Any technology</option>
          <option value="container">Container</option>
          <option value="vm">VM</option>
        </select>
        <select aria-label="OS" value={filter.os} onChange={(e) => set('os', e.target.value)}>
          <option value="">Any OS</option>
          <option value="linux">Linux</option>
          <option value="windows">Windows</option>
          <option value="macos">macOS</option>
        </select>
        <select aria-label="Template" value={filter.template} onChange={(e) => set('template', e.target.value)}>
          <option value="">Any template</option>
          {ctx.templates.map((t) => (
            <option key={t.name}>{t.name}</option>
          ))}
        </select>
        {session.fleetWide ? (
          <select aria-label="Host" value={filter.host} onChange={(e) => set('host', e.target.value)}>
            <option value="">Any host</option>
            {ctx.hostList.map((h) => (
              <option key={h.id} value={h.id}>
                {h.name}
              </option>
            ))}
          </select>
        ) : null}
        {ctx.projects.size > 1 ? (
          <select aria-label="Project" value={filter.project} onChange={(e) => set('project', e.target.value)}>
            <option value="">Any project</option>
            {[...ctx.projects].map(([id, name]) => (
              <option key={id} value={id}>
                {name}
              </option>
            ))}
          </select>
        ) : null}
      </div>
      {rights.change && selected.size > 0 ? (
        <div className="bulkbar" role="toolbar" aria-label="Bulk actions">
          <span>{selected.size} selected</span>
          <button onClick={() => void runBulk('start')}>Start</button>
          <button onClick={() => void runBulk('stop')}>Stop</button>
          <button className="danger" onClick={() => window.confirm(`Delete ${selected.size} instances?`) && void runBulk('delete')}>
            Delete
          </button>
          <button className="ghost" onClick={() => setSelected(new Set())}>
            Clear
          </button>
        </div>
      ) : null}
      {bulk ? (
        <div className="bulk-status" role="status">
          Queued {bulk.done} of {bulk.total} operations{bulk.errors.length ? ` — ${bulk.errors.length} refused: ${bulk.errors.slice(0, 3).join('; ')}` : ''}.{' '}
          <Link to="/operations">Follow them in the log</Link>
        </div>
      ) : null}
      {instances.error ? <ErrorNote error={instances.error} /> : null}
      {!instances.data ? (
        <Loading what="instances" />
      ) : rows.length === 0 ? (
        <Empty>{instances.data.length ? 'No instance matches these filters.' : 'No instances yet.'}</Empty>
      ) : (
        <div className="vtable" role="table" aria-rowcount={rows.length}>
          <div className="vrow vhead" role="row">
            {rights.change ? (
              <span role="columnheader">
                <input type="checkbox" aria-label="Select all shown" checked={allSelected} onChange={() => setSelected(allSelected ? new Set() : new Set(rows.map((r) => r.id)))} />
              </span>
            ) : (
              <span />
            )}
            <span role="columnheader">Name</span>
            <span role="columnheader">State</span>
            <span role="columnheader">Technology</span>
            <span role="columnheader">Template</span>
            <span role="columnheader">Host</span>
            <span role="columnheader">Resources</span>
            <span role="columnheader">Project</span>
            <span role="columnheader">Age</span>
            <span role="columnheader">Actions</span>
          </div>
          <div className="vbody" ref={parent} data-testid="instances-scroll">
            <div style={{ height: virtual.getTotalSize(), position: 'relative' }}>
              {virtual.getVirtualItems().map((v) => {
                const i = rows[v.index]!;
                return (
                  <Row
                    key={i.id}
                    i={i}
                    top={v.start}
                    selected={selected.has(i.id)}
                    change={rights.change}
                    hostName={i.hostId ? (ctx.hosts.get(i.hostId)?.name ?? (session.fleetWide ? i.hostId.slice(0, 8) : 'assigned')) : '—'}
                    projectName={ctx.projects.get(i.projectId) ?? i.projectId.slice(0, 8)}
                    onToggle={toggle}
                  />
                );
              })}
            </div>
          </div>
        </div>
      )}
    </div>
  );
}

interface RowProps {
  i: Instance;
  top: number;
  selected: boolean;
  change: boolean;
  hostName: string;
  projectName: string;
  onToggle: (id: string) => void;
}

// A row re-renders only when its instance, place or selection changes, not on every scroll frame.
const Row = memo(function Row({ i, top, selected, change, hostName, projectName, onToggle }: RowProps): ReactNode {
  return (
    <div className={`vrow ${selected ? 'selected' : ''}`} role="row" data-instance={i.name} style={{ transform: `translateY(${top}px)` }}>
      {change ? (
        <span>
          <input type="checkbox" aria-label={`Select ${i.name}`} checked={selected} onChange={() => onToggle(i.id)} />
        </span>
      ) : (
        <span />
      )}
      <span className="name">
        <Link to={`/instances/${i.id}`}>{i.name}</Link>
      </span>
      <span>
        <Badge value={i.state} title={i.stateReason ?? undefined} />
      </span>
      <span>
        {technologyLabel(i.technology ?? i.requestedTechnology)}
        {i.driver ? <span className="muted small"> · {i.driver}</span> : null}
      </span>
      <span className="small">{i.template}</span>
      <span className="small">{hostName}</span>
      <span className="small muted">
        {i.resources.vcpus} vCPU · {formatMiB(i.resources.memoryMiB)}
      </span>
      <span className="small">{projectName}</span>
      <span className="small muted">{age(i.createdAt)}</span>
      <span>{change ? <RowActions instance={i} /> : null}</span>
    </div>
  );
});

export function RowActions({ instance }: { instance: Instance }): ReactNode {
  const [err, setErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const act = async (a: string): Promise<void> => {
    setBusy(true);
    setErr(null);
    try {
      await api('POST', `/v1/instances/${instance.id}/actions/${a}`, {});
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };
  const actions = instance.state === 'running' ? ['stop'] : instance.state === 'stopped' ? ['start'] : instance.state === 'suspended' ? ['resume'] : [];
  return (
    <span className="actions" title={err instanceof Error ? err.message : undefined}>
      {actions.map((a) => (
        <button key={a} className="small-btn" disabled={busy} onClick={() => void act(a)} aria-label={`${a} ${instance.name}`}>
          {a}
        </button>
      ))}
      {err ? <span className="field-error">!</span> : null}
    </span>
  );
}

/** A plain table for short lists (a host's instances). */
export function InstanceRows({ rows }: { rows: Instance[] }): ReactNode {
  return (
    <table className="table">
      <thead>
        <tr>
          <th>Name</th>
          <th>State</th>
          <th>Technology</th>
          <th>Template</th>
          <th>Resources</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((i) => (
          <tr key={i.id}>
            <td>
              <Link to={`/instances/${i.id}`}>{i.name}</Link>
            </td>
            <td>
              <Badge value={i.state} />
            </td>
            <td>
              {technologyLabel(i.technology)} {i.driver ? <span className="muted small">{i.driver}</span> : null}
            </td>
            <td>{i.template}</td>
            <td className="small">
              {i.resources.vcpus} vCPU · {formatMiB(i.resources.memoryMiB)} · {i.resources.diskGiB} GiB
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
