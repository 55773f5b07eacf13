import { useEffect, useState, type ReactNode } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, get, getAll } from '../lib/api';
import { ago, duration } from '../lib/format';
import { drainBody, localInputValue, moveOf, untilText, type DeadlineChoice } from '../lib/moves';
import type { Host, Instance, Operation, Page } from '../lib/types';
import { Link } from '../router';
import { Badge, Card, Dialog, Empty, ErrorNote, Field, Loading, Progress } from '../ui';
import { MoveCell, useHostName } from './migrate';
import { StatusTally, useInstanceNames } from './operations';

const ENDED = ['succeeded', 'failed', 'cancelled'];

/** The current time, again every `ms` (for countdowns). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

/**
 * When a drain's deadline evacuates what is still on the host: "deadline 14:30 (in 12 min)";
 * `short`: "deadline in 12 min" (a table cell; the time in its title); `bare`: "14:30 (in 12 min)".
 */
export function DrainDeadline({ iso, variant = 'full' }: { iso: string; variant?: 'full' | 'short' | 'bare' }): ReactNode {
  const now = useNow();
  const at = new Date(iso);
  const sameDay = at.toDateString() === new Date(now).toDateString();
  const when = sameDay ? at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : at.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
  const until = untilText(iso, now);
  return (
    <span className="deadline" data-testid="drain-deadline" title={`Drain deadline: ${at.toString()}`}>
      {variant === 'short' ? `deadline ${until}` : `${variant === 'full' ? 'deadline ' : ''}${when} (${until})`}
    </span>
  );
}

/** The instances on a host (the host page's query). */
export function useHostInstances(hostId: string): ReturnType<typeof useQuery<Instance[]>> {
  return useQuery({ queryKey: ['instances', 'host', hostId], queryFn: () => getAll<Instance>(`/v1/instances?host=${hostId}`) });
}

/** Drain: the host takes no new instances; with a deadline, what is still there then is evacuated. */
export function DrainDialog({ host, onClose }: { host: Host; onClose: () => void }): ReactNode {
  const qc = useQueryClient();
  const [reason, setReason] = useState('');
  const [kind, setKind] = useState<DeadlineChoice['kind']>('none');
  const [minutes, setMinutes] = useState('30');
  const [local, setLocal] = useState(() => localInputValue(Date.now() + 3_600_000));
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const choice: DeadlineChoice = kind === 'in' ? { kind, minutes } : kind === 'at' ? { kind, local } : { kind };
  const submit = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await api<Host>('POST', `/v1/hosts/${host.id}/actions/drain`, drainBody(reason, choice));
      void qc.invalidateQueries({ queryKey: ['hosts'] });
      void qc.invalidateQueries({ queryKey: ['host', host.id] });
      onClose();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const n = host.allocated.instances;
  return (
    <Dialog title={`Drain ${host.name}`} testId="drain-dialog" onClose={onClose} onSubmit={() => void submit()} submit="Drain" busy={busy}>
      <p className="muted dialog-lead">
        {host.name} takes no new instances. The {n === 1 ? 'instance' : `${n} instances`} on it stay{n === 1 ? 's' : ''} until evacuated — by you, or by the deadline.
      </p>
      <Field label="Reason (optional)" name="reason" error={error}>
        <input value={reason} onChange={(e) => setReason(e.target.value)} placeholder="kernel upgrade" maxLength={200} />
      </Field>
      <fieldset className="choice" aria-label="Deadline">
        <legend className="field-label">Deadline</legend>
        <label className="radio">
          <input type="radio" name="deadline" checked={kind === 'none'} onChange={() => setKind('none')} /> None — nothing moves by itself
        </label>
        <label className="radio">
          <input type="radio" name="deadline" checked={kind === 'in'} onChange={() => setKind('in')} /> In
          <input type="number" className="narrow" aria-label="Minutes until the deadline" min={1} value={minutes} onFocus={() => setKind('in')} onChange={(e) => setMinutes(e.target.value)} /> minutes
        </label>
        <label className="radio">
          <input type="radio" name="deadline" checked={kind === 'at'} onChange={() => setKind('at')} /> At
          <input type="datetime-local" aria-label="Deadline date and time" value={local} onFocus={() => setKind('at')} onChange={(e) => setLocal(e.target.value)} />
        </label>
        {kind !== 'none' ? <span className="field-hint">At the deadline, the instances still on {host.name} are evacuated: live where both hosts can, else offline.</span> : null}
      </fieldset>
      <ErrorNote error={error} />
    </Dialog>
  );
}

/** Evacuate: says how many instances will move, then starts the evacuation. */
export function EvacuateDialog({ host, onClose, onStarted }: { host: Host; onClose: () => void; onStarted: (op: Operation) => void }): ReactNode {
  const qc = useQueryClient();
  const on = useHostInstances(host.id);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const movable = (on.data ?? []).filter((i) => i.state === 'running' || i.state === 'stopped');
  const left = (on.data?.length ?? 0) - movable.length;
  const submit = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      const op = await api<Operation>('POST', `/v1/hosts/${host.id}/actions/evacuate`, {});
      void qc.invalidateQueries({ queryKey: ['hosts'] });
      void qc.invalidateQueries({ queryKey: ['host', host.id] });
      void qc.invalidateQueries({ queryKey: ['operations'] });
      onStarted(op);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title={`Evacuate ${host.name}`} testId="evacuate-dialog" onClose={onClose} onSubmit={() => void submit()} submit={on.data ? `Move ${movable.length} instance${movable.length === 1 ? '' : 's'}` : 'Evacuate'} busy={busy || !on.data} danger>
      {!on.data ? (
        <Loading what="its instances" />
      ) : (
        <>
          <p data-testid="evacuate-count">
            <strong>{movable.length === 1 ? '1 instance' : `${movable.length} instances`}</strong> will move off {host.name} to {movable.length === 1 ? 'a host' : 'hosts'} the scheduler picks (groups and capacity respected), live where both hosts can, else offline.
          </p>
          {left > 0 ? (
            <p className="muted small">
              {left} other{left === 1 ? '' : 's'} (neither running nor stopped, or busy with another operation) stay{left === 1 ? 's' : ''}.
            </p>
          ) : null}
          <p className="muted small">{host.status === 'draining' ? `${host.name} is draining already.` : `${host.name} is drained first: it takes no new instances.`} Follow the moves on this host's page.</p>
        </>
      )}
      <ErrorNote error={error} />
    </Dialog>
  );
}

/**
 * The host's latest evacuation: the one named in the URL (just started here), else the newest
 * `evacuate` that the host's drain deadline started or whose `fromHostId` is this host — or, where the API does not send it, whose first child
 * moves from this host (or moves an instance still here).
 */
function useEvacuation(host: Host, onHost: Instance[] | undefined, pinned: string | null): ReturnType<typeof useQuery<Operation | null>> {
  const hostId = host.id;
  return useQuery({
    queryKey: ['operations', 'evacuation', hostId, pinned],
    enabled: !!pinned || !!onHost,
    queryFn: async () => {
      if (pinned) return get<Operation>(`/v1/operations/${pinned}`);
      const here = new Set((onHost ?? []).map((i) => i.id));
      const parents = (await get<Page<Operation>>('/v1/operations?kind=evacuate&limit=20')).items;
      let probed = 0;
      for (const p of parents) {
        if (p.id === host.drainEvacuationId) return p;
        if (typeof p.fromHostId === 'string') {
          if (p.fromHostId === hostId) return p;
          continue;
        }
        if (++probed > 5) break;
        const child = (await get<Page<Operation>>(`/v1/operations?parent=${p.id}&limit=1`)).items[0];
        if (!child) continue;
        const from = moveOf(child).from;
        if (from ? from === hostId : !!child.instanceId && here.has(child.instanceId)) return p;
      }
      return null;
    },
    refetchInterval: (q) => (q.state.data && !ENDED.includes(q.state.data.status) ? 3_000 : 30_000),
  });
}

/** The evacuation in progress (or the last one): the parent's progress and a row per move. */
export function EvacuationCard({ host, onHost, pinned }: { host: Host; onHost: Instance[] | undefined; pinned: string | null }): ReactNode {
  const evac = useEvacuation(host, onHost, pinned);
  const p = evac.data;
  const running = !!p && !ENDED.includes(p.status);
  const children = useQuery({
    queryKey: ['operations', 'children', p?.id, 'all'],
    queryFn: () => getAll<Operation>(`/v1/operations?parent=${p!.id}`),
    enabled: !!p,
    refetchInterval: running ? 2_000 : false,
  });
  const name = useHostName();
  const names = useInstanceNames(children.data ?? []);
  if (evac.error) return <ErrorNote error={evac.error} />;
  if (!p) return null;
  const kids = children.data ?? [];
  const moved = kids.filter((c) => c.status === 'succeeded').length;
  return (
    <Card
      title={
        <>
          {running ? 'Evacuation in progress' : 'Last evacuation'} <Badge value={p.status} />
        </>
      }
      className="wide"
      actions={<Link to={`/operations/${p.id}`}>Open the operation</Link>}
    >
      <div className="evac" data-testid="evacuation" data-status={p.status} data-operation={p.id}>
        <div className="evac-head">
          <span className="small">
            {kids.length ? `${moved} of ${kids.length} moved` : p.step} · {running ? `started ${ago(p.startedAt ?? p.createdAt)}` : `took ${duration(p.startedAt ?? p.createdAt, p.finishedAt)}, ${ago(p.finishedAt)}`}
          </span>
        </div>
        {p.error?.message ? <ErrorNote error={p.error.message} /> : null}
        {!children.data ? (
          <Loading what="its moves" />
        ) : kids.length === 0 ? (
          <Empty>Nothing to move: no running or stopped instance was on {host.name}.</Empty>
        ) : (
          <>
            <StatusTally rows={kids} />
            <div className="table-wrap">
              <table className="table moves">
                <thead>
                  <tr>
                    <th>Instance</th>
                    <th>From → to</th>
                    <th>Mode</th>
                    <th>Status</th>
                    <th>Progress</th>
                    <th>Error</th>
                  </tr>
                </thead>
                <tbody>
                  {kids.map((c) => {
                    const m = moveOf(c);
                    return (
                      <tr key={c.id} data-move={c.instanceId ? (names.get(c.instanceId) ?? c.instanceId) : c.id} data-status={c.status}>
                        <td>{c.instanceId ? <Link to={`/instances/${c.instanceId}`}>{names.get(c.instanceId) ?? c.instanceId.slice(0, 8)}</Link> : '—'}</td>
                        <td>
                          <MoveCell op={c} name={name} from={host.id} />
                        </td>
                        <td className="small">{m.mode ?? <span className="muted">{ENDED.includes(c.status) ? '—' : 'live if it can'}</span>}</td>
                        <td>
                          <Link to={`/operations/${c.id}`}>
                            <Badge value={c.status} />
                          </Link>
                        </td>
                        <td className="small">
                          {c.status === 'running' ? (
                            <>
                              <Progress value={c.progress} /> <span className="muted">{c.step}</span>
                            </>
                          ) : (
                            <span className="muted">{c.status === 'queued' ? 'waiting' : `took ${duration(c.startedAt ?? c.createdAt, c.finishedAt)}`}</span>
                          )}
                        </td>
                        <td className="small error-text">{c.error?.message ?? ''}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          </>
        )}
      </div>
    </Card>
  );
}
