import { useState, type ReactNode } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, get, getAll } from '../lib/api';
import { formatMiB } from '../lib/format';
import { moveOf, moveText } from '../lib/moves';
import type { Host, Instance, Operation } from '../lib/types';
import { Link } from '../router';
import { useSession } from '../session';
import { Badge, Dialog, ErrorNote, Progress } from '../ui';

const ENDED = ['succeeded', 'failed', 'cancelled'];

/** The fleet's hosts (the same query as the hosts page), for a token that sees hosts. */
export function useFleetHosts(): Host[] | undefined {
  const session = useSession();
  return useQuery({ queryKey: ['hosts'], queryFn: () => getAll<Host>('/v1/hosts'), enabled: session.fleetWide, staleTime: 10_000 }).data;
}

/** A host's name by id where this token sees hosts; undefined otherwise. */
export function useHostName(): (id: string) => string | undefined {
  const hosts = useFleetHosts();
  const names = new Map((hosts ?? []).map((h) => [h.id, h.name]));
  return (id) => names.get(id);
}

/** The capabilities of the offer an instance runs on, on its host (null: unknown, e.g. a project's token). */
export function offerCapabilities(instance: Instance, host: Host | undefined): Set<string> | null {
  if (!host) return null;
  return new Set(host.drivers.find((d) => d.name === instance.driver)?.offers.find((o) => o.technology === instance.technology)?.capabilities ?? []);
}

/** The hosts that could take the instance: ready, another, same arch, with its driver offering its technology. */
export function destinations(instance: Instance, hosts: Host[]): Host[] {
  return hosts
    .filter((h) => h.status === 'ready' && h.id !== instance.hostId && (!instance.arch || h.arch === instance.arch))
    .filter((h) => h.drivers.some((d) => d.installed && d.name === instance.driver && d.offers.some((o) => o.technology === instance.technology)))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Migrate: the scheduler's choice or a ready host, live or offline (live by default where the
 * instance's driver can and it runs), then the operation followed to "moved from A to B".
 */
export function MigrateDialog({ instance, onClose }: { instance: Instance; onClose: () => void }): ReactNode {
  const session = useSession();
  const qc = useQueryClient();
  const hosts = useFleetHosts();
  const source = hosts?.find((h) => h.id === instance.hostId);
  const caps = offerCapabilities(instance, source);
  const running = instance.state === 'running';
  const liveOk = running && (caps === null || caps.has('liveMigrate'));
  const offlineOk = caps === null || caps.has('offlineMigrate');
  const [target, setTarget] = useState('');
  const [live, setLive] = useState(liveOk);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [op, setOp] = useState<Operation | null>(null);
  const choices = hosts ? destinations(instance, hosts) : [];
  const free = (h: Host): string => `${h.capacity.vcpus - h.allocated.vcpus} vCPU, ${formatMiB(h.capacity.memoryMiB - h.allocated.memoryMiB)} free`;
  const submit = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      // Unknown capabilities (a project's token sees no hosts): live where both hosts can, else offline.
      const body: Record<string, unknown> = { ...(target ? { hostId: target } : {}), ...(caps === null && live ? {} : { live }) };
      setOp(await api<Operation>('POST', `/v1/instances/${instance.id}/migrate`, body));
      void qc.invalidateQueries({ queryKey: ['operations'] });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  if (op) {
    return (
      <Dialog title={`Migrate ${instance.name}`} testId="migrate-dialog" onClose={onClose} extra={<Link to={`/operations/${op.id}`}>Open the operation</Link>}>
        <MigrationProgress op={op} from={instance.hostId} />
      </Dialog>
    );
  }
  const modeHint = !running
    ? `It is ${instance.state}: it moves offline.`
    : caps === null
      ? 'Live where both hosts can, else it stops, moves and starts again.'
      : caps.has('liveMigrate')
        ? 'The guest keeps running while its memory is copied. Off: it stops, moves and starts again.'
        : `The ${instance.driver ?? ''} driver cannot move a ${instance.technology ?? 'guest'} live: it stops, moves and starts again.`;
  return (
    <Dialog title={`Migrate ${instance.name}`} testId="migrate-dialog" onClose={onClose} onSubmit={() => void submit()} submit="Migrate" busy={busy || (!offlineOk && !liveOk)}>
      <p className="muted dialog-lead">
        Moves it off {source ? <strong>{source.name}</strong> : 'its host'}: capacity is claimed on the destination first, and a failure leaves it where it is.
      </p>
      <fieldset className="choice" aria-label="Destination">
        <legend className="field-label">Destination</legend>
        <label className="radio">
          <input type="radio" name="destination" checked={target === ''} onChange={() => setTarget('')} /> Let the scheduler choose
          <span className="muted small"> — as for a new instance, with its explanation</span>
        </label>
        {session.fleetWide ? (
          <label className="radio">
            <input type="radio" name="destination" checked={target !== ''} disabled={choices.length === 0} onChange={() => setTarget(choices[0]?.id ?? '')} /> A host:
            <select aria-label="Destination host" value={target} disabled={choices.length === 0} onChange={(e) => setTarget(e.target.value)}>
              <option value="">{choices.length ? 'Choose a ready host…' : 'No other ready host can take it'}</option>
              {choices.map((h) => (
                <option key={h.id} value={h.id}>
                  {h.name} — {free(h)}
                </option>
              ))}
            </select>
          </label>
        ) : null}
      </fieldset>
      <fieldset className="choice" aria-label="Mode">
        <legend className="field-label">Mode</legend>
        <label className="radio">
          <input type="checkbox" aria-label="Live migration" checked={live} disabled={!liveOk} onChange={(e) => setLive(e.target.checked)} /> Live
        </label>
        <span className="field-hint">{modeHint}</span>
      </fieldset>
      {!offlineOk && !liveOk ? <ErrorNote error={`The ${instance.driver ?? ''} driver cannot migrate this ${instance.technology ?? 'instance'}.`} /> : null}
      <ErrorNote error={error} />
    </Dialog>
  );
}

/** A migrate operation followed to its end: progress, step, then "moved from A to B" or why not. */
export function MigrationProgress({ op, from }: { op: Operation; from: string | null }): ReactNode {
  const session = useSession();
  const name = useHostName();
  const o = useQuery({
    queryKey: ['operation', op.id],
    queryFn: () => get<Operation>(`/v1/operations/${op.id}`),
    initialData: op,
    refetchInterval: (q) => (q.state.data && ENDED.includes(q.state.data.status) ? false : 2_000),
  }).data;
  const known = moveOf(o);
  // Its source is where the instance was when it was asked, until the operation says.
  const m = { ...known, from: known.from ?? from };
  const done = o.status === 'succeeded';
  return (
    <div className="follow" data-testid="migration" data-status={o.status} data-from={m.from ?? ''} data-to={m.to ?? ''}>
      <p>
        <Link to={`/operations/${o.id}`}>{o.kind}</Link> <Badge value={o.status} /> <span className="muted small">{o.step}</span>
      </p>
      <Progress value={done ? 100 : o.progress} />
      {m.to ? (
        <p className="move-line" data-testid="move">
          {session.fleetWide ? moveText(m, name, done) : done ? 'Moved to another host.' : 'Moving to another host.'}
        </p>
      ) : null}
      {o.error?.message ? <ErrorNote error={`${o.status === 'cancelled' ? 'Cancelled' : 'Not moved'}: ${o.error.message}`} /> : null}
    </div>
  );
}

/** A migrate's hosts in a table cell: "A → B", with what is not known yet said so. */
export function MoveCell({ op, name, from }: { op: Operation; name: (id: string) => string | undefined; from?: string | null }): ReactNode {
  const known = moveOf(op);
  // Before it reports its hosts, a migrate's source is where its instance is (the caller knows).
  const m = { ...known, from: known.from ?? from ?? null };
  const label = (id: string, recorded: string | null): string => name(id) ?? recorded ?? id.slice(0, 8);
  const host = (id: string | null, recorded: string | null, fallback: string): ReactNode =>
    id ? (
      <Link to={`/hosts/${id}`} data-host-id={id}>
        {label(id, recorded)}
      </Link>
    ) : (
      <span className="muted">{fallback}</span>
    );
  return (
    <span className="move" data-move-from={m.from ? label(m.from, m.fromName) : ''} data-move-to={m.to ? label(m.to, m.toName) : ''}>
      {host(m.from, m.fromName, '—')} <span aria-label="to">→</span> {host(m.to, m.toName, op.status === 'queued' ? 'not chosen yet' : ENDED.includes(op.status) ? '—' : 'choosing…')}
    </span>
  );
}
