import { useMemo, type ReactNode } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { get, getAll, post } from '../lib/api';
import { ago, duration } from '../lib/format';
import type { Instance, Operation, Page } from '../lib/types';
import { Link, useRouter } from '../router';
import { can, useSession } from '../session';
import { Badge, Card, Empty, ErrorNote, Kv, Loading, Progress } from '../ui';
import { MoveCell, useHostName } from './migrate';

const KINDS = ['create', 'start', 'stop', 'restart', 'delete', 'suspend', 'resume', 'snapshot', 'restore', 'clone', 'resize', 'migrate', 'evacuate', 'recover', 'batch', 'batch-delete'];

export function OperationsPage(): ReactNode {
  const { search, navigate } = useRouter();
  const p = new URLSearchParams(search);
  const status = p.get('status') ?? '';
  const kind = p.get('kind') ?? '';
  const parent = p.get('parent') ?? '';
  const qs = new URLSearchParams({ limit: '200' });
  if (status) qs.set('status', status);
  if (kind) qs.set('kind', kind);
  if (parent) qs.set('parent', parent);
  const ops = useQuery({ queryKey: ['operations', 'list', status, kind, parent], queryFn: () => get<Page<Operation>>(`/v1/operations?${qs}`).then((r) => r.items) });
  const set = (k: string, v: string): void => {
    const next = new URLSearchParams(search);
    if (v) next.set(k, v);
    else next.delete(k);
    navigate(`/operations${next.toString() ? `?${next}` : ''}`, { replace: true });
  };
  return (
    <div className="page" data-page="operations">
      <header className="page-head">
        <h1>Operations</h1>
        <div className="filters">
          {parent ? (
            <span className="chip">
              children of <Link to={`/operations/${parent}`}>{parent.slice(0, 8)}</Link>
              <button className="chip-x" aria-label="Clear the batch filter" onClick={() => set('parent', '')}>
                ×
              </button>
            </span>
          ) : null}
          <select aria-label="Status" value={status} onChange={(e) => set('status', e.target.value)}>
            <option value="">Any status</option>
            {['queued', 'running', 'succeeded', 'failed', 'cancelled'].map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
          <select aria-label="Kind" value={kind} onChange={(e) => set('kind', e.target.value)}>
            <option value="">Any kind</option>
            {KINDS.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </div>
      </header>
      {ops.error ? <ErrorNote error={ops.error} /> : null}
      {!ops.data ? <Loading what="operations" /> : ops.data.length === 0 ? <Empty>No operation matches.</Empty> : <OperationTable rows={ops.data} />}
    </div>
  );
}

/**
 * Instances' names by id: from the instances list where this browser has it, else that list is
 * fetched (once a minute at most) when a row names an instance it does not know.
 */
export function useInstanceNames(rows: Operation[]): Map<string, string> {
  const qc = useQueryClient();
  const cached = qc.getQueryData<Instance[]>(['instances']);
  const missing = rows.some((o) => o.instanceId && !cached?.some((i) => i.id === o.instanceId));
  const list = useQuery({ queryKey: ['instances'], queryFn: () => getAll<Instance>('/v1/instances'), enabled: missing, staleTime: 60_000 });
  const data = list.data ?? cached;
  return useMemo(() => new Map((data ?? []).map((i) => [i.id, i.name])), [data]);
}

/** Where an instance is now (the source of a migrate that has not reported its hosts yet). */
function useInstanceHosts(): Map<string, string | null> {
  const qc = useQueryClient();
  const cached = qc.getQueryData<Instance[]>(['instances']);
  return useMemo(() => new Map((cached ?? []).map((i) => [i.id, i.hostId])), [cached]);
}

export function OperationTable({ rows }: { rows: Operation[] }): ReactNode {
  const session = useSession();
  const qc = useQueryClient();
  // Names where this browser knows them or can: instances, hosts (fleet-wide tokens), tokens for admins.
  const names = useInstanceNames(rows);
  const hostName = useHostName();
  const where = useInstanceHosts();
  const moves = session.fleetWide && rows.some((o) => o.kind === 'migrate');
  const tokens = useQuery({ queryKey: ['tokens'], queryFn: () => get<{ items: { id: string; name: string }[] }>('/v1/tokens').then((r) => r.items), enabled: can(session).admin, staleTime: 60_000 });
  const who = new Map((tokens.data ?? []).map((t) => [t.id, t.name]));
  const cancel = useMutation({ mutationFn: (id: string) => post(`/v1/operations/${id}/cancel`), onSettled: () => void qc.invalidateQueries({ queryKey: ['operations'] }) });
  return (
    <div className="table-wrap">
      <table className="table ops">
        <thead>
          <tr>
            <th>Kind</th>
            <th>Target</th>
            {moves ? <th>From → to</th> : null}
            <th>Requested by</th>
            <th>Status</th>
            <th>Progress</th>
            <th>Step</th>
            <th>Duration</th>
            <th>Error</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {rows.map((o) => (
            <tr key={o.id} data-operation={o.id} data-kind={o.kind} data-status={o.status}>
              <td>
                <Link to={`/operations/${o.id}`}>{o.kind}</Link>
              </td>
              <td>{o.instanceId ? <Link to={`/instances/${o.instanceId}`}>{names.get(o.instanceId) ?? o.instanceId.slice(0, 8)}</Link> : <span className="muted">{parentTarget(o, hostName)}</span>}</td>
              {moves ? <td className="small">{o.kind === 'migrate' ? <MoveCell op={o} name={hostName} from={o.instanceId && !['succeeded', 'failed', 'cancelled'].includes(o.status) ? where.get(o.instanceId) : null} /> : null}</td> : null}
              <td className="small" title={o.requestedBy ?? o.initiator ?? undefined}>
                {requester(o, who)}
              </td>
              <td>
                <Badge value={o.status} />
              </td>
              <td>
                <Progress value={o.progress} />
              </td>
              <td className="small">{o.step}</td>
              <td className="small muted">{duration(o.startedAt ?? o.createdAt, o.finishedAt)}</td>
              <td className="small error-text">{o.error?.message ?? ''}</td>
              <td>
                {can(session).change && (o.status === 'queued' || o.status === 'running') ? (
                  <button className="small-btn" onClick={() => cancel.mutate(o.id)} disabled={cancel.isPending}>
                    Cancel
                  </button>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {cancel.error ? <ErrorNote error={cancel.error} /> : null}
    </div>
  );
}

/** Who asked: a token's name where known, else its id's start; the system's initiator (a drain deadline) when no token did. */
export function requester(o: Operation, names: Map<string, string>): string {
  if (o.requestedBy) return names.get(o.requestedBy) ?? o.requestedBy.slice(0, 8);
  return o.initiator ?? '—';
}

/** What a parent operation is about: an evacuation's host where known, else its number of children. */
function parentTarget(o: Operation, hostName: (id: string) => string | undefined): string {
  const count = typeof o.result?.total === 'number' ? `${o.result.total} instances` : null;
  if (o.kind === 'evacuate') {
    const host = typeof o.fromHostId === 'string' ? (hostName(o.fromHostId) ?? o.fromHostName ?? o.fromHostId.slice(0, 8)) : null;
    return host ? `host ${host}${count ? ` · ${count}` : ''}` : (count ?? 'a host');
  }
  return o.parentId ? 'child' : (count ?? 'batch');
}

export function OperationPage({ id }: { id: string }): ReactNode {
  const op = useQuery({ queryKey: ['operation', id], queryFn: () => get<Operation>(`/v1/operations/${id}`) });
  const finished = op.data ? !['queued', 'running'].includes(op.data.status) : false;
  const children = useQuery({
    queryKey: ['operations', 'children', id],
    queryFn: () => get<Page<Operation>>(`/v1/operations?parent=${id}&limit=200`),
    // A parent (a batch, an evacuation) has children and no instance of its own.
    enabled: op.data !== undefined && !op.data.instanceId,
    // Children's events refetch it too; this covers a batch whose children finish quietly.
    refetchInterval: finished ? false : 2000,
  });
  const session = useSession();
  const tokens = useQuery({ queryKey: ['tokens'], queryFn: () => get<{ items: { id: string; name: string }[] }>('/v1/tokens').then((r) => r.items), enabled: can(session).admin, staleTime: 60_000 });
  const names = useInstanceNames(op.data ? [op.data] : []);
  const hostName = useHostName();
  if (op.error) return <ErrorNote error={op.error} />;
  if (!op.data) return <Loading what="the operation" />;
  const o = op.data;
  const who = new Map((tokens.data ?? []).map((t) => [t.id, t.name]));
  return (
    <div className="page" data-page="operation">
      <header className="page-head">
        <div>
          <div className="crumbs">
            <Link to="/operations">Operations</Link> /
          </div>
          <h1>
            {o.kind} <Badge value={o.status} />
          </h1>
        </div>
      </header>
      <div className="grid">
        <Card title="Operation">
          <Progress value={o.progress} />
          <Kv
            items={[
              ['Step', o.step],
              ['Target', o.instanceId ? <Link to={`/instances/${o.instanceId}`}>{names.get(o.instanceId) ?? o.instanceId}</Link> : parentTarget(o, hostName)],
              ...(o.kind === 'migrate' && session.fleetWide ? [['From → to', <MoveCell key="move" op={o} name={hostName} />] as [string, ReactNode]] : []),
              ['Requested by', <span key="who" title={o.requestedBy ?? o.initiator ?? undefined}>{o.requestedBy && who.has(o.requestedBy) ? who.get(o.requestedBy) : (o.requestedBy ?? o.initiator ?? '—')}</span>],
              ['Created', `${ago(o.createdAt)}`],
              ['Duration', duration(o.startedAt ?? o.createdAt, o.finishedAt)],
              ['Error', o.error?.message ?? '—'],
              ['Id', <code key="id">{o.id}</code>],
            ]}
          />
        </Card>
        {o.result ? (
          <Card title="Result">
            <pre className="json">{JSON.stringify(o.result, null, 2)}</pre>
          </Card>
        ) : null}
        {!o.instanceId ? (
          <Card
            title={`Children${children.data ? ` (${children.data.items.length}${children.data.nextCursor ? '+' : ''})` : ''}`}
            className="wide"
            actions={<Link to={`/operations?parent=${o.id}`}>Open in the operation log</Link>}
          >
            {children.error ? (
              <ErrorNote error={children.error} />
            ) : !children.data ? (
              <Loading what="its children" />
            ) : children.data.items.length === 0 ? (
              <Empty>No child yet: the batch is still being planned.</Empty>
            ) : (
              <>
                <StatusTally rows={children.data.items} />
                <OperationTable rows={children.data.items} />
              </>
            )}
          </Card>
        ) : null}
      </div>
    </div>
  );
}

/** How many children are in each status, with a stacked bar: a batch's progress at a glance. */
export function StatusTally({ rows }: { rows: Operation[] }): ReactNode {
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  const order = ['succeeded', 'running', 'queued', 'failed', 'cancelled'].filter((s) => counts.has(s));
  return (
    <div className="tally" data-tally>
      <div className="tally-bar" aria-hidden>
        {order.map((s) => (
          <span key={s} className={`tone-bg-${s}`} style={{ flexGrow: counts.get(s) }} />
        ))}
      </div>
      <div className="tally-legend">
        {order.map((s) => (
          <span key={s} data-status-count={s}>
            <Badge value={s} /> {counts.get(s)}
          </span>
        ))}
      </div>
    </div>
  );
}
