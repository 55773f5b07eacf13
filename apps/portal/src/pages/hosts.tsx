import { useState, type ReactNode } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { get, getAll, post } from '../lib/api';
import { age, formatGiB, formatMiB, osLabel, technologyLabel } from '../lib/format';
import type { Host, Operation } from '../lib/types';
import { Link, useRouter } from '../router';
import { can, useSession } from '../session';
import { Badge, Bar, Card, Empty, ErrorNote, Kv, Loading } from '../ui';
import { InstanceRows } from './instances';
import { DrainDeadline, DrainDialog, EvacuateDialog, EvacuationCard, useHostInstances } from './evacuation';
import { OperationTable } from './operations';

export function useHosts(enabled = true): ReturnType<typeof useQuery<Host[]>> {
  return useQuery({ queryKey: ['hosts'], queryFn: () => getAll<Host>('/v1/hosts'), enabled, refetchInterval: 20_000 });
}

export function technologies(h: Host): string[] {
  return [...new Set(h.drivers.filter((d) => d.installed).flatMap((d) => d.offers.map((o) => o.technology)))];
}

/** Host actions for admins: drain (a dialog, with a deadline), maintenance, activate, evacuate (a confirmation; on the host's page). */
function HostActions({ host, evacuate = true }: { host: Host; evacuate?: boolean }): ReactNode {
  const session = useSession();
  const qc = useQueryClient();
  const { navigate } = useRouter();
  const [dialog, setDialog] = useState<'drain' | 'evacuate' | null>(null);
  const act = useMutation({
    mutationFn: (action: string) => post<Host>(`/v1/hosts/${host.id}/actions/${action}`, {}),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ['hosts'] });
      void qc.invalidateQueries({ queryKey: ['host', host.id] });
    },
  });
  if (!can(session).admin) return null;
  const actions = host.status === 'ready' ? ['drain', 'maintenance'] : host.status === 'draining' || host.status === 'maintenance' ? ['activate'] : [];
  const canEvacuate = evacuate && ['ready', 'draining', 'maintenance'].includes(host.status) && host.allocated.instances > 0;
  return (
    <span className="actions">
      {actions.map((a) => (
        <button key={a} className="small-btn" disabled={act.isPending} onClick={() => (a === 'drain' ? setDialog('drain') : act.mutate(a))} aria-label={`${a} ${host.name}`}>
          {a[0]!.toUpperCase() + a.slice(1)}
          {a === 'drain' ? '…' : ''}
        </button>
      ))}
      {canEvacuate ? (
        <button className="small-btn danger" onClick={() => setDialog('evacuate')} aria-label={`evacuate ${host.name}`}>
          Evacuate…
        </button>
      ) : null}
      {act.error ? <ErrorNote error={act.error} /> : null}
      {dialog === 'drain' ? <DrainDialog host={host} onClose={() => setDialog(null)} /> : null}
      {dialog === 'evacuate' ? (
        <EvacuateDialog
          host={host}
          onClose={() => setDialog(null)}
          onStarted={(op) => {
            setDialog(null);
            navigate(`/hosts/${host.id}?evacuation=${op.id}`);
          }}
        />
      ) : null}
    </span>
  );
}

/** A host's status, with its drain deadline where it has one (`short` in a table). */
function HostStatus({ host, short }: { host: Host; short?: boolean }): ReactNode {
  return (
    <span className="host-status">
      <Badge value={host.status} title={host.statusReason ?? undefined} />
      {host.status === 'draining' && host.drainDeadline ? <DrainDeadline iso={host.drainDeadline} variant={short ? 'short' : 'full'} /> : null}
    </span>
  );
}

export function HostsPage(): ReactNode {
  const { search, navigate } = useRouter();
  const params = new URLSearchParams(search);
  const [q, setQ] = useState(params.get('q') ?? '');
  const os = params.get('os') ?? '';
  const status = params.get('status') ?? '';
  const hosts = useHosts();
  const setParam = (k: string, v: string): void => {
    const p = new URLSearchParams(search);
    if (v) p.set(k, v);
    else p.delete(k);
    navigate(`/hosts${p.toString() ? `?${p}` : ''}`, { replace: true });
  };
  const rows = (hosts.data ?? []).filter((h) => (!os || h.os === os) && (!status || h.status === status) && (!q || `${h.name} ${h.osVersion} ${h.arch}`.toLowerCase().includes(q.toLowerCase())));
  return (
    <div className="page" data-page="hosts">
      <header className="page-head">
        <h1>Hosts</h1>
        <div className="filters">
          <input type="search" placeholder="Search hosts" aria-label="Search hosts" value={q} onChange={(e) => setQ(e.target.value)} onBlur={() => setParam('q', q)} />
          <select aria-label="OS" value={os} onChange={(e) => setParam('os', e.target.value)}>
            <option value="">Any OS</option>
            <option value="linux">Linux</option>
            <option value="windows">Windows</option>
            <option value="macos">macOS</option>
          </select>
          <select aria-label="Status" value={status} onChange={(e) => setParam('status', e.target.value)}>
            <option value="">Any status</option>
            {['ready', 'enrolling', 'draining', 'maintenance', 'down'].map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </div>
      </header>
      {hosts.error ? <ErrorNote error={hosts.error} /> : null}
      {!hosts.data ? (
        <Loading what="hosts" />
      ) : rows.length === 0 ? (
        <Empty>{hosts.data.length ? 'No host matches these filters.' : 'No host has enrolled yet.'}</Empty>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                <th>Name</th>
                <th>OS</th>
                <th>Arch</th>
                <th>Drivers</th>
                <th>Status</th>
                <th>Heartbeat</th>
                <th>vCPUs</th>
                <th>Memory</th>
                <th>Instances</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {rows.map((h) => (
                <tr key={h.id} data-host={h.name}>
                  <td className="nowrap">
                    <Link to={`/hosts/${h.id}`}>{h.name}</Link>
                  </td>
                  <td title={h.osVersion}>{osLabel(h.os)}</td>
                  <td>{h.arch}</td>
                  <td className="small">
                    {h.drivers
                      .filter((d) => d.installed)
                      .map((d) => `${d.name} (${d.offers.map((o) => technologyLabel(o.technology)).join(', ')})`)
                      .join(' · ') || '—'}
                  </td>
                  <td>
                    <HostStatus host={h} short />
                  </td>
                  <td className="muted">{age(h.lastHeartbeatAt)}</td>
                  <td>
                    <Bar used={h.allocated.vcpus} total={h.capacity.vcpus} label={`${h.allocated.vcpus} of ${h.capacity.vcpus} vCPUs`} />
                    <span className="bar-caption">
                      {h.allocated.vcpus} / {h.capacity.vcpus}
                    </span>
                  </td>
                  <td>
                    <Bar used={h.allocated.memoryMiB} total={h.capacity.memoryMiB} label={`${formatMiB(h.allocated.memoryMiB)} of ${formatMiB(h.capacity.memoryMiB)}`} />
                    <span className="bar-caption">
                      {formatMiB(h.allocated.memoryMiB)} / {formatMiB(h.capacity.memoryMiB)}
                    </span>
                  </td>
                  <td className="num">{h.allocated.instances}</td>
                  <td>
                    <HostActions host={h} evacuate={false} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

export function HostPage({ id }: { id: string }): ReactNode {
  const { search } = useRouter();
  const pinned = new URLSearchParams(search).get('evacuation');
  const host = useQuery({ queryKey: ['host', id], queryFn: () => get<Host>(`/v1/hosts/${id}`), refetchInterval: 15_000 });
  const instances = useHostInstances(id);
  const ops = useQuery({
    queryKey: ['operations', 'host', id],
    queryFn: async () => {
      const ids = new Set((instances.data ?? []).map((i) => i.id));
      const page = await get<{ items: Operation[] }>('/v1/operations?limit=200');
      return page.items.filter((o) => o.instanceId && ids.has(o.instanceId)).slice(0, 20);
    },
    enabled: !!instances.data,
  });
  if (host.error) return <ErrorNote error={host.error} />;
  if (!host.data) return <Loading what="the host" />;
  const h = host.data;
  return (
    <div className="page" data-page="host">
      <header className="page-head">
        <div>
          <div className="crumbs">
            <Link to="/hosts">Hosts</Link> /
          </div>
          <h1>
            {h.name} <HostStatus host={h} />
          </h1>
          {h.statusReason ? <p className="muted">{h.statusReason}</p> : null}
          {h.status === 'draining' && h.drainDeadline ? (
            <p className="muted small" data-testid="drain-note">
              {h.allocated.instances > 0 ? 'At the deadline, what is still here is evacuated.' : 'Nothing is left here for the deadline to move.'}
            </p>
          ) : null}
        </div>
        <HostActions host={h} />
      </header>
      <div className="grid">
        <EvacuationCard host={h} onHost={instances.data} pinned={pinned} />
        <Card title="Host">
          <Kv
            items={[
              ['OS', `${osLabel(h.os)} — ${h.osVersion}`],
              ['Architecture', h.arch],
              ['Zone', h.zone ?? '—'],
              ['Labels', Object.entries(h.labels).map(([k, v]) => `${k}=${v}`).join(', ') || '—'],
              ['Status', <Badge key="status" value={h.status} />],
              ...(h.status === 'draining' ? [['Drain deadline', h.drainDeadline ? <DrainDeadline iso={h.drainDeadline} variant="bare" /> : 'none'] as [string, ReactNode]] : []),
              ['Heartbeat', age(h.lastHeartbeatAt)],
              ['Failed creates', String(h.createFailures)],
              ['Simulated', h.simulated ? 'yes' : 'no'],
            ]}
          />
        </Card>
        <Card title="Capacity">
          <div className="cap-row">
            <span className="cap-label">vCPUs</span>
            <Bar used={h.allocated.vcpus} total={h.capacity.vcpus} />
            <span className="cap-text">
              {h.allocated.vcpus} / {h.capacity.vcpus}
            </span>
          </div>
          <div className="cap-row">
            <span className="cap-label">Memory</span>
            <Bar used={h.allocated.memoryMiB} total={h.capacity.memoryMiB} />
            <span className="cap-text">
              {formatMiB(h.allocated.memoryMiB)} / {formatMiB(h.capacity.memoryMiB)}
            </span>
          </div>
          <div className="cap-row">
            <span className="cap-label">Disk</span>
            <Bar used={h.allocated.diskGiB} total={h.capacity.diskGiB} />
            <span className="cap-text">
              {formatGiB(h.allocated.diskGiB)} / {formatGiB(h.capacity.diskGiB)}
            </span>
          </div>
        </Card>
        <Card title="Drivers">
          <table className="mini">
            <tbody>
              {h.drivers.map((d) => (
                <tr key={d.name}>
                  <td>{d.name}</td>
                  <td>{d.installed ? d.offers.map((o) => technologyLabel(o.technology)).join(', ') : <span className="muted">{d.error ?? 'not installed'}</span>}</td>
                  <td className="small muted">{d.offers.flatMap((o) => o.capabilities).filter((c, i, a) => a.indexOf(c) === i).join(', ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
        <Card title={`Instances (${instances.data?.length ?? '…'})`} className="wide">
          {instances.data ? instances.data.length ? <InstanceRows rows={instances.data} /> : <Empty>No instance runs here.</Empty> : <Loading />}
        </Card>
        <Card title="Recent operations" className="wide">
          {ops.data ? ops.data.length ? <OperationTable rows={ops.data} /> : <Empty>No recent operation.</Empty> : <Loading />}
        </Card>
      </div>
    </div>
  );
}
