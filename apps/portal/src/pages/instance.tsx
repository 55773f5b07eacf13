import { useState, type FormEvent, type ReactNode } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, get } from '../lib/api';
import { ago, duration, formatMiB, technologyLabel } from '../lib/format';
import type { Explanation, Host, Instance, Operation, Page } from '../lib/types';
import { Link, useRouter } from '../router';
import { can, useSession } from '../session';
import { Badge, Card, Empty, ErrorNote, Field, Kv, Loading, Progress } from '../ui';
import { ConsoleCard } from './console-log';
import { ExplanationBlock } from './explanation';
import { MigrateDialog, useHostName } from './migrate';
import { requester } from './operations';
import { moveOf, moveText } from '../lib/moves';

export function InstancePage({ id }: { id: string }): ReactNode {
  const session = useSession();
  const rights = can(session);
  const { navigate } = useRouter();
  const qc = useQueryClient();
  const inst = useQuery({ queryKey: ['instance', id], queryFn: () => get<Instance>(`/v1/instances/${id}`) });
  const host = useQuery({ queryKey: ['host', inst.data?.hostId], queryFn: () => get<Host>(`/v1/hosts/${inst.data!.hostId}`), enabled: !!inst.data?.hostId && session.fleetWide });
  const ops = useQuery({ queryKey: ['operations', 'instance', id], queryFn: () => get<Page<Operation>>(`/v1/operations?instance=${id}&limit=50`).then((r) => r.items) });
  const snaps = useQuery({ queryKey: ['snapshots', id], queryFn: () => get<{ items: { name: string; createdAt: string }[] }>(`/v1/instances/${id}/snapshots`).then((r) => r.items), retry: false });
  const [error, setError] = useState<unknown>(null);
  const [snapName, setSnapName] = useState('');
  const [cloneName, setCloneName] = useState('');
  const [size, setSize] = useState<{ vcpus: string; memoryMiB: string } | null>(null);
  const [migrating, setMigrating] = useState(false);
  const hostName = useHostName();
  const run = async (method: string, path: string, body?: unknown): Promise<void> => {
    setError(null);
    try {
      await api(method, path, body);
      void qc.invalidateQueries({ queryKey: ['operations'] });
      void qc.invalidateQueries({ queryKey: ['snapshots', id] });
    } catch (e) {
      setError(e);
    }
  };
  if (inst.error) return <ErrorNote error={inst.error} />;
  if (!inst.data) return <Loading what="the instance" />;
  const i = inst.data;
  // Since a migration, it is where that move put it: that placement's explanation is the one to show.
  const lastMove = ops.data?.find((o) => o.kind === 'migrate' && o.status === 'succeeded' && !!o.result?.explanation);
  const actions: string[] = { running: ['stop', 'restart', 'suspend'], stopped: ['start'], suspended: ['resume', 'stop'] }[i.state] ?? [];
  const caps = new Set(host.data?.drivers.find((d) => d.name === i.driver)?.offers.flatMap((o) => o.capabilities) ?? []);
  const snapOk = !host.data || caps.has('snapshot');
  const consoleOffered = !!host.data?.drivers.find((d) => d.name === i.driver)?.offers.find((o) => o.technology === i.technology)?.capabilities.includes('console');
  return (
    <div className="page" data-page="instance">
      <header className="page-head">
        <div>
          <div className="crumbs">
            <Link to="/instances">Instances</Link> /
          </div>
          <h1>
            {i.name} <Badge value={i.state} />
          </h1>
          <p className="muted">
            Desired state: {i.desiredState}
            {i.stateReason ? ` — ${i.stateReason}` : ''}
          </p>
        </div>
        {rights.change ? (
          <div className="actions">
            {actions.map((a) => (
              <button key={a} onClick={() => void run('POST', `/v1/instances/${i.id}/actions/${a}`, {})}>
                {a[0]!.toUpperCase() + a.slice(1)}
              </button>
            ))}
            {i.hostId && (i.state === 'running' || i.state === 'stopped') ? <button onClick={() => setMigrating(true)}>Migrate…</button> : null}
            {i.state !== 'deleting' && i.state !== 'deleted' ? (
              <button
                className="danger"
                onClick={() => {
                  if (window.confirm(`Delete ${i.name}?`)) void run('DELETE', `/v1/instances/${i.id}`).then(() => navigate('/instances'));
                }}
              >
                Delete
              </button>
            ) : null}
          </div>
        ) : null}
      </header>
      <ErrorNote error={error} />
      {migrating ? <MigrateDialog instance={i} onClose={() => setMigrating(false)} /> : null}
      <div className="grid">
        <Card title="Instance">
          <Kv
            items={[
              ['Technology', `${technologyLabel(i.technology)} (asked: ${technologyLabel(i.requestedTechnology)})`],
              ['Driver', i.driver ?? '—'],
              ['Host', i.hostId ? session.fleetWide ? <Link to={`/hosts/${i.hostId}`}>{host.data?.name ?? i.hostId}</Link> : 'assigned' : '—'],
              ['Template', `${i.template}${i.arch ? ` (${i.arch})` : ''}`],
              ['Resources', `${i.resources.vcpus} vCPU · ${formatMiB(i.resources.memoryMiB)} · ${i.resources.diskGiB} GiB disk`],
              ['Limits', i.limits && Object.keys(i.limits).length ? Object.entries(i.limits).map(([k, v]) => `${k} ${String(v)}`).join(', ') : 'none'],
              ['Isolation', i.isolation ? JSON.stringify(i.isolation) : 'standard'],
              ['Created', `${ago(i.createdAt)}`],
              ['Id', <code key="id">{i.id}</code>],
            ]}
          />
        </Card>
        <Card title="Why it is here">
          {lastMove ? (
            <p className="muted small" data-testid="moved-here">
              {session.fleetWide ? sentence(moveText(moveOf(lastMove), hostName, true)) : 'Moved to another host'} {ago(lastMove.finishedAt)}; the scheduler's reasons for that move:
            </p>
          ) : null}
          <ExplanationBlock explanation={lastMove ? (lastMove.result!.explanation as Explanation) : i.placementExplanation} />
        </Card>
        <Card title="Snapshots">
          {snaps.data?.length ? (
            <table className="mini">
              <tbody>
                {snaps.data.map((s) => (
                  <tr key={s.name}>
                    <td>{s.name}</td>
                    <td className="muted small">{ago(s.createdAt)}</td>
                    <td>
                      {rights.change ? (
                        <span className="actions">
                          <button className="small-btn" onClick={() => void run('POST', `/v1/instances/${i.id}/snapshots/${encodeURIComponent(s.name)}/restore`, {})}>
                            Restore
                          </button>
                          <button className="small-btn danger" onClick={() => void run('DELETE', `/v1/instances/${i.id}/snapshots/${encodeURIComponent(s.name)}`)}>
                            Delete
                          </button>
                        </span>
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <Empty>{snapOk ? 'No snapshot yet.' : `The ${i.driver ?? ''} driver takes no snapshots.`}</Empty>
          )}
          {rights.change && snapOk ? (
            <form
              className="inline-form"
              onSubmit={(e: FormEvent) => {
                e.preventDefault();
                void run('POST', `/v1/instances/${i.id}/snapshots`, { name: snapName }).then(() => setSnapName(''));
              }}
            >
              <Field label="New snapshot" name="name" error={error}>
                <input value={snapName} onChange={(e) => setSnapName(e.target.value)} placeholder="before-upgrade" />
              </Field>
              <button type="submit" disabled={!snapName}>
                Take
              </button>
            </form>
          ) : null}
          {rights.change ? (
            <form
              className="inline-form"
              onSubmit={(e: FormEvent) => {
                e.preventDefault();
                void run('POST', `/v1/instances/${i.id}/clone`, { name: cloneName }).then(() => setCloneName(''));
              }}
            >
              <Field label="Clone as" name="clone">
                <input value={cloneName} onChange={(e) => setCloneName(e.target.value)} placeholder={`${i.name}-copy`} />
              </Field>
              <button type="submit" disabled={!cloneName}>
                Clone
              </button>
            </form>
          ) : null}
        </Card>
        {rights.change ? (
          <Card title="Resize">
            <form
              className="inline-form"
              noValidate
              onSubmit={(e: FormEvent) => {
                e.preventDefault();
                void run('POST', `/v1/instances/${i.id}/resize`, {
                  resources: { vcpus: Number(size?.vcpus ?? i.resources.vcpus), memoryMiB: Number(size?.memoryMiB ?? i.resources.memoryMiB), diskGiB: i.resources.diskGiB },
                });
              }}
            >
              <Field label="vCPUs" name="resources.vcpus" error={error}>
                <input type="number" value={size?.vcpus ?? String(i.resources.vcpus)} onChange={(e) => setSize({ vcpus: e.target.value, memoryMiB: size?.memoryMiB ?? String(i.resources.memoryMiB) })} />
              </Field>
              <Field label="Memory (MiB)" name="resources.memoryMiB" error={error}>
                <input type="number" value={size?.memoryMiB ?? String(i.resources.memoryMiB)} onChange={(e) => setSize({ memoryMiB: e.target.value, vcpus: size?.vcpus ?? String(i.resources.vcpus) })} />
              </Field>
              <button type="submit" disabled={!size}>
                Resize
              </button>
            </form>
            <p className="muted small">Where the driver can resize (live or stopped); a queued operation like any other.</p>
          </Card>
        ) : null}
        {i.hostId ? <ConsoleCard instanceId={i.id} offered={host.data ? consoleOffered : undefined} /> : null}
        <Card title="Timeline" className="wide">
          {!ops.data ? (
            <Loading />
          ) : ops.data.length === 0 ? (
            <Empty>No operation yet.</Empty>
          ) : (
            <ol className="timeline">
              {ops.data.map((o) => (
                <li key={o.id} className={`tone-${o.status}`}>
                  <div className="tl-head">
                    <Link to={`/operations/${o.id}`}>{o.kind}</Link> <Badge value={o.status} /> <span className="muted small">{ago(o.createdAt)} · {duration(o.startedAt ?? o.createdAt, o.finishedAt)} · by {requester(o, new Map())}</span>
                  </div>
                  <div className="small">{o.error?.message ?? o.step}</div>
                  {o.kind === 'migrate' && session.fleetWide && (o.status === 'succeeded' || moveOf(o).to) ? (
                    <div className="small" data-testid="timeline-move">
                      {moveText(moveOf(o), hostName, o.status === 'succeeded')}
                    </div>
                  ) : null}
                  {o.status === 'running' ? <Progress value={o.progress} /> : null}
                </li>
              ))}
            </ol>
          )}
        </Card>
      </div>
    </div>
  );
}

function sentence(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
