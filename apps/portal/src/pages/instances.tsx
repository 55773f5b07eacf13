import { memo, useCallback, useMemo, useRef, useState, type CSSProperties, type ReactNode } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useVirtualizer } from '@tanstack/react-virtual';
import { api, ApiError, get, getAll } from '../lib/api';
import { gridTemplate, HIDDEN_COLUMNS_KEY, INSTANCE_COLUMNS, parseHidden, visibleColumns, type ColumnDef } from '../lib/columns';
import { applyFilter, filterFromSearch, searchFromFilter, type InstanceFilter } from '../lib/filters';
import { age, formatMiB, technologyLabel } from '../lib/format';
import type { Host, Instance, Operation, Page, Template } from '../lib/types';
import { Link, useRouter } from '../router';
import { can, useSession } from '../session';
import { Badge, Empty, ErrorNote, Loading } from '../ui';
import { MigrateDialog } from './migrate';

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
const DEFAULT_GRID = gridTemplate(INSTANCE_COLUMNS);

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
  const [bulk, setBulk] = useState<BulkRun | null>(null);
  const [hidden, setHidden] = useState<Set<string>>(() => parseHidden(localStorage.getItem(HIDDEN_COLUMNS_KEY)));
  // A token that cannot act has no selection boxes nor actions: their columns go too.
  const columns = useMemo(() => visibleColumns(hidden).filter((c) => rights.change || (c.id !== 'select' && c.id !== 'actions')), [hidden, rights.change]);
  const grid = gridTemplate(columns);
  const toggleColumn = (id: string): void => {
    const next = new Set(hidden);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    localStorage.setItem(HIDDEN_COLUMNS_KEY, JSON.stringify([...next]));
    setHidden(next);
  };
  const parent = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({ count: rows.length, getScrollElement: () => parent.current, estimateSize: () => ROW, overscan: 12 });
  const set = (k: keyof InstanceFilter, v: string): void => navigate(`/instances${searchFromFilter({ ...filter, q, [k]: v })}`, { replace: true });

  const runBulk = async (action: BulkAction): Promise<void> => {
    const ids = [...selected];
    const names = new Map((instances.data ?? []).map((i) => [i.id, i.name]));
    const results: BulkResult[] = ids.map((id) => ({ id, name: names.get(id) ?? id.slice(0, 8), outcome: 'sending' }));
    const run: BulkRun = { action, results };
    setBulk({ ...run, results: results.slice() });
    // A few at a time: each is its own queued operation; its result (or refusal) shows on its row.
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let k = next++; k < results.length; k = next++) {
        const r = results[k]!;
        try {
          const op = await api<Operation>(action === 'delete' ? 'DELETE' : 'POST', action === 'delete' ? `/v1/instances/${r.id}` : `/v1/instances/${r.id}/actions/${action}`, action === 'delete' ? undefined : {});
          results[k] = { ...r, outcome: 'queued', operationId: op.id };
        } catch (e) {
          results[k] = { ...r, outcome: 'refused', status: e instanceof ApiError ? e.status : undefined, message: e instanceof ApiError ? e.detail || e.title : String(e) };
        }
        setBulk({ ...run, results: results.slice() });
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
        <div className="actions">
          <ColumnMenu hidden={hidden} onToggle={toggleColumn} />
          {rights.change ? (
            <Link to="/create" className="button primary">
              Create
            </Link>
          ) : null}
        </div>
      </header>
      <div className="filters" role="search">
        <input type="search" placeholder="Search name, id, host…" aria-label="Search instances" value={q} onChange={(e) => setQ(e.target.value)} onBlur={() => set('q', q)} onKeyDown={(e) => e.key === 'Enter' && set('q', q)} />
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
      {bulk ? <BulkResults run={bulk} onClose={() => setBulk(null)} /> : null}
      {instances.error ? <ErrorNote error={instances.error} /> : null}
      {!instances.data ? (
        <Loading what="instances" />
      ) : rows.length === 0 ? (
        <Empty>{instances.data.length ? 'No instance matches these filters.' : 'No instances yet.'}</Empty>
      ) : (
        // Columns hidden: the visible columns' tracks, set once on the table for every row (a CSS variable).
        // With every column shown, the stylesheet's own tracks (rows then share one computed style).
        <div className={`vtable ${grid === DEFAULT_GRID ? '' : 'custom-cols'}`} role="table" aria-rowcount={rows.length} style={grid === DEFAULT_GRID ? undefined : ({ '--cols': grid } as CSSProperties)}>
          <div className="vrow vhead" role="row">
            {columns.map((c) =>
              c.id === 'select' ? (
                rights.change ? (
                  <span key={c.id} role="columnheader">
                    <input type="checkbox" aria-label="Select all shown" checked={allSelected} onChange={() => setSelected(allSelected ? new Set() : new Set(rows.map((r) => r.id)))} />
                  </span>
                ) : (
                  <span key={c.id} />
                )
              ) : (
                <span key={c.id} role="columnheader" data-column={c.id}>
                  {c.label}
                </span>
              ),
            )}
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
                    columns={columns}
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
  columns: ColumnDef[];
}

// A row re-renders only when its instance, place, selection or columns change, not on every scroll frame.
const Row = memo(function Row({ i, top, selected, change, hostName, projectName, onToggle, columns }: RowProps): ReactNode {
  const cell = (id: string): ReactNode => {
    switch (id) {
      case 'select':
        return change ? <input type="checkbox" aria-label={`Select ${i.name}`} checked={selected} onChange={() => onToggle(i.id)} /> : null;
      case 'name':
        return <Link to={`/instances/${i.id}`}>{i.name}</Link>;
      case 'state':
        return <Badge value={i.state} title={i.stateReason ?? undefined} />;
      case 'technology':
        return (
          <>
            {technologyLabel(i.technology ?? i.requestedTechnology)}
            {i.driver ? <span className="muted small"> · {i.driver}</span> : null}
          </>
        );
      case 'template':
        return i.template;
      case 'host':
        return hostName;
      case 'resources':
        return `${i.resources.vcpus} vCPU · ${formatMiB(i.resources.memoryMiB)}`;
      case 'project':
        return projectName;
      case 'age':
        return age(i.createdAt);
      case 'actions':
        return change ? <RowActions instance={i} /> : null;
      default:
        return null;
    }
  };
  const classes: Record<string, string> = { name: 'name', template: 'small', host: 'small', resources: 'small muted', project: 'small', age: 'small muted' };
  const titles: Record<string, string> = { template: i.template, host: hostName, project: projectName, name: i.name };
  return (
    <div className={`vrow ${selected ? 'selected' : ''}`} role="row" data-instance={i.name} style={{ transform: `translateY(${top}px)` }}>
      {columns.map((c) => (
        <span key={c.id} className={classes[c.id]} title={titles[c.id]} data-cell={c.id}>
          {cell(c.id)}
        </span>
      ))}
    </div>
  );
});

/** A menu of the columns that can be hidden; the choice is kept in this browser (localStorage). */
function ColumnMenu({ hidden, onToggle }: { hidden: ReadonlySet<string>; onToggle: (id: string) => void }): ReactNode {
  return (
    <details className="menu" data-testid="columns-menu">
      <summary className="button">Columns{hidden.size ? ` (${hidden.size} hidden)` : ''}</summary>
      <div className="menu-pop" role="group" aria-label="Shown columns">
        {INSTANCE_COLUMNS.filter((c) => !c.fixed).map((c) => (
          <label key={c.id} className="check">
            <input type="checkbox" checked={!hidden.has(c.id)} onChange={() => onToggle(c.id)} /> {c.label}
          </label>
        ))}
      </div>
    </details>
  );
}

type BulkAction = 'start' | 'stop' | 'delete';

interface BulkResult {
  id: string;
  name: string;
  outcome: 'sending' | 'queued' | 'refused';
  operationId?: string;
  status?: number;
  message?: string;
}

interface BulkRun {
  action: BulkAction;
  results: BulkResult[];
}

/**
 * What a bulk action did, row by row: queued (with its operation's status as it proceeds) or
 * refused, and why (the API's 409 detail: another operation active, the wrong state, …).
 */
function BulkResults({ run, onClose }: { run: BulkRun; onClose: () => void }): ReactNode {
  const sent = run.results.filter((r) => r.outcome !== 'sending').length;
  const refused = run.results.filter((r) => r.outcome === 'refused');
  const queued = run.results.filter((r) => r.outcome === 'queued');
  const open = useRef(true);
  // The statuses of this run's operations, from the recent log, while any of them is unfinished.
  const ops = useQuery({
    queryKey: ['operations', 'bulk', run.action, queued.length],
    queryFn: () => get<Page<Operation>>('/v1/operations?limit=200').then((p) => new Map(p.items.map((o) => [o.id, o]))),
    enabled: queued.length > 0,
    refetchInterval: (q) => {
      const m = q.state.data;
      const unfinished = !m || queued.some((r) => ['queued', 'running'].includes(m.get(r.operationId!)?.status ?? 'queued'));
      return unfinished && open.current ? 1500 : false;
    },
  });
  const done = queued.filter((r) => ops.data?.get(r.operationId!)?.status === 'succeeded').length;
  return (
    <section className="bulk-results card" role="status" aria-label="Bulk action results" data-bulk={run.action}>
      <header className="card-head">
        <h2>
          {run.action[0]!.toUpperCase() + run.action.slice(1)} · {sent} of {run.results.length} sent · {queued.length} queued ({done} done) · {refused.length} refused
        </h2>
        <span className="actions">
          <Link to="/operations">Operation log</Link>
          <button
            className="ghost small-btn"
            onClick={() => {
              open.current = false;
              onClose();
            }}
          >
            Dismiss
          </button>
        </span>
      </header>
      <table className="mini bulk-table">
        <tbody>
          {[...refused, ...run.results.filter((r) => r.outcome !== 'refused')].map((r) => {
            const op = r.operationId ? ops.data?.get(r.operationId) : undefined;
            return (
              <tr key={r.id} data-bulk-row={r.name} data-outcome={r.outcome}>
                <td>
                  <Link to={`/instances/${r.id}`}>{r.name}</Link>
                </td>
                <td>{r.outcome === 'refused' ? <Badge value="refused" /> : r.outcome === 'sending' ? <span className="muted small">sending…</span> : <Link to={`/operations/${r.operationId!}`}>{op ? <Badge value={op.status} /> : <Badge value="queued" />}</Link>}</td>
                <td className="small">{r.outcome === 'refused' ? <span className="error-text">{r.status ? `${r.status} · ` : ''}{r.message}</span> : (op?.error?.message ?? op?.step ?? '')}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

export function RowActions({ instance }: { instance: Instance }): ReactNode {
  const [err, setErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [migrating, setMigrating] = useState(false);
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
      {instance.hostId && (instance.state === 'running' || instance.state === 'stopped') ? (
        <button className="small-btn icon-btn" onClick={() => setMigrating(true)} aria-label={`migrate ${instance.name}`} title="Migrate…">
          ⇄
        </button>
      ) : null}
      {err ? <span className="field-error">!</span> : null}
      {migrating ? <MigrateDialog instance={instance} onClose={() => setMigrating(false)} /> : null}
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
