import { useEffect, useMemo, useState, type FormEvent, type ReactNode } from 'react';
import { useQuery } from '@tanstack/react-query';
import { ApiError, get, post } from '../lib/api';
import { osLabel, technologyLabel } from '../lib/format';
import type { Decision, Instance, Operation, Template } from '../lib/types';
import { Link } from '../router';
import { useSession } from '../session';
import { Badge, Card, ErrorNote, Field, Loading, Progress } from '../ui';
import { ExplanationBlock } from './explanation';

const NEEDS = ['custom-kernel', 'kernel-modules', 'nested-virtualization', 'own-os-family', 'privileged', 'realtime'];

interface Form {
  name: string;
  count: number;
  template: string;
  technology: 'auto' | 'container' | 'vm';
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
  needs: string[];
  project: string;
  group: string;
  hostId: string;
  labels: string;
}

/** The create body (and preview body) the form stands for. */
export function specOf(f: Form): Record<string, unknown> {
  const spec: Record<string, unknown> = { template: f.template, technology: f.technology, resources: { vcpus: f.vcpus, memoryMiB: f.memoryMiB, diskGiB: f.diskGiB } };
  if (f.needs.length) spec.isolation = { needs: f.needs };
  if (f.project) spec.project = f.project;
  const placement: Record<string, unknown> = {};
  if (f.group) placement.group = f.group;
  if (f.hostId) placement.hostId = f.hostId;
  const labels = Object.fromEntries(
    f.labels
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => s.split('=').map((x) => x.trim()) as [string, string]),
  );
  if (Object.keys(labels).length) placement.labels = labels;
  if (Object.keys(placement).length) spec.placement = placement;
  return spec;
}

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

export function CreatePage(): ReactNode {
  const session = useSession();
  const templates = useQuery({ queryKey: ['templates'], queryFn: () => get<{ items: Template[] }>('/v1/templates').then((r) => r.items), staleTime: 300_000 });
  const groups = useQuery({ queryKey: ['placement-groups'], queryFn: () => get<{ items: { id: string; name: string }[] }>('/v1/placement-groups').then((r) => r.items), retry: false });
  const [f, setF] = useState<Form>({ name: '', count: 1, template: 'debian-12', technology: 'auto', vcpus: 1, memoryMiB: 1024, diskGiB: 10, needs: [], project: session.projects?.[0]?.name ?? '', group: '', hostId: '', labels: '' });
  const [error, setError] = useState<unknown>(null);
  const [submitted, setSubmitted] = useState<Operation | null>(null);
  const [busy, setBusy] = useState(false);
  const upd = <K extends keyof Form>(k: K, v: Form[K]): void => setF((x) => ({ ...x, [k]: v }));
  const spec = useMemo(() => specOf(f), [f]);
  const debounced = useDebounced(spec, 300);
  const preview = useQuery({
    queryKey: ['preview', debounced],
    queryFn: () => post<Decision>('/v1/placements/preview', debounced),
    enabled: !!f.template,
    retry: false,
    staleTime: 2_000,
    // Keep showing the last answer while the next one comes (no flicker as one types).
    placeholderData: (previous) => previous,
  });
  const byOs = useMemo(() => {
    const m = new Map<string, Template[]>();
    for (const t of templates.data ?? []) m.set(t.osFamily ?? 'other', [...(m.get(t.osFamily ?? 'other') ?? []), t]);
    return [...m.entries()];
  }, [templates.data]);
  const tpl = templates.data?.find((t) => t.name === f.template);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const op = f.count > 1 ? await post<Operation>('/v1/instances/batch', { count: f.count, namePrefix: f.name, spec }) : await post<Operation>('/v1/instances', { ...spec, name: f.name });
      setSubmitted(op);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="page" data-page="create">
      <header className="page-head">
        <h1>Create instances</h1>
      </header>
      <div className="create">
        <form onSubmit={(e) => void submit(e)} className="create-form" aria-label="Create" noValidate>
          <Card title="1 · Template">
            {!templates.data ? (
              <Loading />
            ) : (
              <Field label="Template" name="template" error={error ?? preview.error}>
                <select name="template" value={f.template} onChange={(e) => upd('template', e.target.value)}>
                  {byOs.map(([os, ts]) => (
                    <optgroup key={os} label={osLabel(os)}>
                      {ts.map((t) => (
                        <option key={t.name} value={t.name}>
                          {t.name} — {t.description}
                        </option>
                      ))}
                    </optgroup>
                  ))}
                </select>
              </Field>
            )}
            {tpl ? (
              <p className="muted small">
                {osLabel(tpl.osFamily)} · {tpl.archs?.join(', ')} · as {tpl.technologies?.map(technologyLabel).join(' or ')}
              </p>
            ) : null}
          </Card>
          <Card title="2 · Technology">
            <div className="segmented" role="radiogroup" aria-label="Technology">
              {(['auto', 'container', 'vm'] as const).map((t) => (
                <label key={t} className={f.technology === t ? 'on' : ''}>
                  <input type="radio" name="technology" value={t} checked={f.technology === t} onChange={() => upd('technology', t)} />
                  {technologyLabel(t)}
                </label>
              ))}
            </div>
            <p className="muted small">Auto lets the scheduler pick: a container where one meets the needs (denser, no VM overhead), a VM otherwise.</p>
          </Card>
          <Card title="3 · Resources">
            <div className="row3">
              <Field label="vCPUs" name="resources.vcpus" error={error ?? preview.error}>
                <input name="vcpus" type="number" min={1} value={f.vcpus} onChange={(e) => upd('vcpus', Number(e.target.value))} />
              </Field>
              <Field label="Memory (MiB)" name="resources.memoryMiB" error={error ?? preview.error}>
                <input name="memoryMiB" type="number" min={16} value={f.memoryMiB} onChange={(e) => upd('memoryMiB', Number(e.target.value))} />
              </Field>
              <Field label="Disk (GiB)" name="resources.diskGiB" error={error ?? preview.error}>
                <input name="diskGiB" type="number" min={1} value={f.diskGiB} onChange={(e) => upd('diskGiB', Number(e.target.value))} />
              </Field>
            </div>
          </Card>
          <Card title="4 · Isolation needs">
            <div className="checks">
              {NEEDS.map((n) => (
                <label key={n}>
                  <input type="checkbox" checked={f.needs.includes(n)} onChange={() => upd('needs', f.needs.includes(n) ? f.needs.filter((x) => x !== n) : [...f.needs, n])} /> {n}
                </label>
              ))}
            </div>
          </Card>
          <Card title="5 · Placement">
            <div className="row3">
              <Field label="Placement group" name="placement.group" error={error ?? preview.error}>
                <select value={f.group} onChange={(e) => upd('group', e.target.value)}>
                  <option value="">None</option>
                  {(groups.data ?? []).map((g) => (
                    <option key={g.id} value={g.name}>
                      {g.name}
                    </option>
                  ))}
                </select>
              </Field>
              <Field label="Required labels" name="placement.labels" error={error ?? preview.error} hint="key=value, comma-separated">
                <input value={f.labels} onChange={(e) => upd('labels', e.target.value)} placeholder="zone=a" />
              </Field>
              {session.projects && session.projects.length > 1 ? (
                <Field label="Project" name="project" error={error}>
                  <select value={f.project} onChange={(e) => upd('project', e.target.value)}>
                    {session.projects.map((p) => (
                      <option key={p.id}>{p.name}</option>
                    ))}
                  </select>
                </Field>
              ) : null}
            </div>
          </Card>
          <Card title="6 · Name">
            <div className="row3">
              <Field label={f.count > 1 ? 'Name prefix' : 'Name'} name={f.count > 1 ? 'namePrefix' : 'name'} error={error}>
                <input name="name" value={f.name} onChange={(e) => upd('name', e.target.value)} placeholder="web-1" required />
              </Field>
              <Field label="How many" name="count" error={error}>
                <input name="count" type="number" min={1} max={1000} value={f.count} onChange={(e) => upd('count', Math.max(1, Number(e.target.value)))} />
              </Field>
            </div>
            {error && !(error instanceof ApiError && Object.keys(error.fields).length) ? <ErrorNote error={error} /> : null}
            <button className="primary" type="submit" disabled={busy || !f.name}>
              {busy ? 'Creating…' : f.count > 1 ? `Create ${f.count} instances` : 'Create'}
            </button>
          </Card>
        </form>
        <div className="create-side">
          <Card title="Live placement preview">
            {preview.error ? (
              <ErrorNote error={preview.error} />
            ) : !preview.data ? (
              <Loading what="the preview" />
            ) : (
              <div data-testid="preview" data-ok={preview.data.ok}>
                <ExplanationBlock explanation={preview.data.explanation} decision={preview.data} />
                {preview.isFetching ? <p className="muted small">Updating…</p> : null}
              </div>
            )}
          </Card>
          {submitted ? <Follow key={submitted.id} op={submitted} /> : null}
        </div>
      </div>
    </div>
  );
}

/** Follows the new operation (from the event stream) and then its instance to running. */
function Follow({ op }: { op: Operation }): ReactNode {
  const o = useQuery({ queryKey: ['operation', op.id], queryFn: () => get<Operation>(`/v1/operations/${op.id}`), initialData: op, refetchInterval: (q) => (q.state.data && ['succeeded', 'failed', 'cancelled'].includes(q.state.data.status) ? false : 5_000) });
  const instanceId = o.data.instanceId;
  const inst = useQuery({ queryKey: ['instance', instanceId], queryFn: () => get<Instance>(`/v1/instances/${instanceId}`), enabled: !!instanceId });
  return (
    <Card title="Following the operation">
      <div data-testid="follow" data-status={o.data.status} data-name={inst.data?.name ?? ''} data-instance-state={inst.data?.state ?? ''}>
        <p>
          <Link to={`/operations/${op.id}`}>{o.data.kind}</Link> <Badge value={o.data.status} /> <span className="muted small">{o.data.step}</span>
        </p>
        <Progress value={o.data.progress} />
        {o.data.error?.message ? <ErrorNote error={new Error(o.data.error.message)} /> : null}
        {inst.data ? (
          <p>
            <Link to={`/instances/${inst.data.id}`}>{inst.data.name}</Link> is <Badge value={inst.data.state} />
          </p>
        ) : null}
      </div>
    </Card>
  );
}
