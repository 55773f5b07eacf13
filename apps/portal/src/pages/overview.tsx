import type { ReactNode } from 'react';
import { useQuery } from '@tanstack/react-query';
import { get } from '../lib/api';
import { formatGiB, formatMiB, osLabel, percent, tally, technologyLabel } from '../lib/format';
import type { Overview } from '../lib/types';
import { Link } from '../router';
import { Badge, Bar, Card, Empty, ErrorNote, Loading } from '../ui';

export function OverviewPage(): ReactNode {
  const q = useQuery({ queryKey: ['overview'], queryFn: () => get<Overview>('/v1/overview'), refetchInterval: 30_000 });
  if (q.error) return <ErrorNote error={q.error} />;
  if (!q.data) return <Loading what="the overview" />;
  const o = q.data;
  const total = o.instances.reduce((s, r) => s + r.count, 0);
  const running = o.instances.filter((r) => r.state === 'running').reduce((s, r) => s + r.count, 0);
  const byTech = tally(o.instances, (r) => r.technology, (r) => r.count);
  const byState = tally(o.instances, (r) => r.state, (r) => r.count);
  const inFlight = o.operationsInFlight.reduce((s, r) => s + r.count, 0);
  const hostsTotal = o.hosts?.reduce((s, r) => s + r.count, 0) ?? 0;
  const hostsReady = o.hosts?.filter((h) => h.status === 'ready').reduce((s, r) => s + r.count, 0) ?? 0;
  return (
    <div className="page" data-page="overview">
      <header className="page-head">
        <h1>Overview</h1>
      </header>
      <div className="stats">
        {o.hosts ? <Stat label="Hosts ready" value={`${hostsReady} / ${hostsTotal}`} to="/hosts" /> : null}
        <Stat label="Instances running" value={`${running} / ${total}`} to="/instances?state=running" />
        <Stat label="Operations in flight" value={String(inFlight)} to="/operations?status=running" />
        {o.capacity ? <Stat label="Memory allocated" value={`${percent(o.capacity.allocMemoryMiB, o.capacity.memoryMiB)}%`} /> : null}
      </div>
      <div className="grid">
        {o.hosts ? (
          <Card title="Hosts by OS and status">
            <HostMatrix rows={o.hosts} />
          </Card>
        ) : null}
        {o.capacity ? (
          <Card title="Capacity used / free (hosts not down)">
            <CapRow label="vCPUs" used={o.capacity.allocVcpus} total={o.capacity.vcpus} fmt={(n) => String(n)} />
            <CapRow label="Memory" used={o.capacity.allocMemoryMiB} total={o.capacity.memoryMiB} fmt={formatMiB} />
            <CapRow label="Disk" used={o.capacity.allocDiskGiB} total={o.capacity.diskGiB} fmt={formatGiB} />
            <h3>By technology</h3>
            <table className="mini">
              <thead>
                <tr>
                  <th>Technology</th>
                  <th>Placed</th>
                  <th>vCPUs</th>
                  <th>Memory</th>
                  <th>Disk</th>
                </tr>
              </thead>
              <tbody>
                {o.usage.map((u) => (
                  <tr key={u.technology}>
                    <td>{technologyLabel(u.technology)}</td>
                    <td>{u.count}</td>
                    <td>{u.vcpus}</td>
                    <td>{formatMiB(u.memoryMiB)}</td>
                    <td>{formatGiB(u.diskGiB)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {o.usage.length === 0 ? <Empty>No instance is placed yet.</Empty> : null}
          </Card>
        ) : null}
        <Card title="Instances by technology and state">
          {total === 0 ? (
            <Empty>
              No instances yet. <Link to="/create">Create one</Link>.
            </Empty>
          ) : (
            <>
              <div className="chips">
                {byTech.map(([t, n]) => (
                  <Link key={t} className="chip" to={`/instances?technology=${t}`}>
                    {technologyLabel(t)} <strong>{n}</strong>
                  </Link>
                ))}
              </div>
              <div className="chips">
                {byState.map(([s, n]) => (
                  <Link key={s} className="chip" to={`/instances?state=${s}`}>
                    <Badge value={s} /> <strong>{n}</strong>
                  </Link>
                ))}
              </div>
            </>
          )}
        </Card>
        <Card title="Operations in flight">
          {o.operationsInFlight.length === 0 ? (
            <Empty>Nothing is queued or running.</Empty>
          ) : (
            <table className="mini">
              <tbody>
                {o.operationsInFlight.map((r) => (
                  <tr key={`${r.kind}-${r.status}`}>
                    <td>{r.kind}</td>
                    <td>
                      <Badge value={r.status} />
                    </td>
                    <td className="num">{r.count}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Card>
        {o.density ? (
          <Card title="Density: containers vs VMs per host" className="wide">
            <p className="muted small">Overhead is the memory claimed beyond what the instances asked for: a VM carries a hypervisor and its own kernel, a container only a small runtime share.</p>
            {o.density.length === 0 ? <Empty>No instance is placed yet.</Empty> : <Density rows={o.density} />}
          </Card>
        ) : null}
        {o.attention ? (
          <Card title="Hosts down or failing creates">
            {o.attention.length === 0 ? (
              <Empty>Every host is ready and creating fine.</Empty>
            ) : (
              <table className="mini">
                <tbody>
                  {o.attention.map((h) => (
                    <tr key={h.id}>
                      <td className="nowrap">
                        <Link to={`/hosts/${h.id}`}>{h.name}</Link>
                      </td>
                      <td>
                        <Badge value={h.status} title={h.statusReason ?? undefined} />
                      </td>
                      <td className="muted">{h.createFailures ? `${h.createFailures} failed creates` : (h.statusReason ?? '')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </Card>
        ) : null}
      </div>
    </div>
  );
}

function Stat({ label, value, to }: { label: string; value: string; to?: string }): ReactNode {
  const body = (
    <>
      <span className="stat-value">{value}</span>
      <span className="stat-label">{label}</span>
    </>
  );
  return to ? (
    <Link to={to} className="stat">
      {body}
    </Link>
  ) : (
    <div className="stat">{body}</div>
  );
}

function CapRow({ label, used, total, fmt }: { label: string; used: number; total: number; fmt: (n: number) => string }): ReactNode {
  return (
    <div className="cap-row">
      <span className="cap-label">{label}</span>
      <Bar used={used} total={total} label={`${label}: ${fmt(used)} of ${fmt(total)}`} />
      <span className="cap-text">
        {fmt(used)} used · {fmt(Math.max(0, total - used))} free
      </span>
    </div>
  );
}

const STATUSES = ['ready', 'enrolling', 'draining', 'maintenance', 'down'];

function HostMatrix({ rows }: { rows: NonNullable<Overview['hosts']> }): ReactNode {
  const oses = [...new Set(rows.map((r) => r.os))].sort();
  const statuses = STATUSES.filter((s) => rows.some((r) => r.status === s)).concat([...new Set(rows.map((r) => r.status))].filter((s) => !STATUSES.includes(s)));
  if (!rows.length) return <Empty>No host has enrolled yet. Start an agent with an enrollment token.</Empty>;
  return (
    <table className="mini matrix">
      <thead>
        <tr>
          <th>OS</th>
          {statuses.map((s) => (
            <th key={s}>
              <Badge value={s} />
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {oses.map((os) => (
          <tr key={os}>
            <td>
              <Link to={`/hosts?os=${os}`}>{osLabel(os)}</Link>
            </td>
            {statuses.map((s) => (
              <td key={s} className="num">
                {rows.find((r) => r.os === os && r.status === s)?.count ?? '·'}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Density({ rows }: { rows: NonNullable<Overview['density']> }): ReactNode {
  const max = Math.max(1, ...rows.map((r) => r.containers + r.vms));
  return (
    <div className="density">
      {rows.map((r) => (
        <div className="density-row" key={r.hostId}>
          <Link to={`/hosts/${r.hostId}`} className="density-name">
            {r.hostName}
          </Link>
          <div className="density-bar" title={`${r.containers} containers, ${r.vms} VMs`}>
            <div className="seg container" style={{ width: `${(r.containers / max) * 100}%` }} />
            <div className="seg vm" style={{ width: `${(r.vms / max) * 100}%` }} />
          </div>
          <span className="small">
            {r.containers} ct · {r.vms} VM
          </span>
          <span className="small muted" title="memory claimed beyond what the instances asked for: each VM's hypervisor and kernel, each container's small runtime share">
            {r.overheadMemoryMiB ? `${formatMiB(r.overheadMemoryMiB)} overhead` : 'no overhead'}
          </span>
        </div>
      ))}
      <div className="legend small">
        <span className="sw container" /> containers <span className="sw vm" /> VMs
      </div>
    </div>
  );
}
