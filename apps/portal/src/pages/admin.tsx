import { useState, type FormEvent, type ReactNode } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, get } from '../lib/api';
import { formFromOverrides, overridesFromForm, POLICY_RESOURCES, POLICY_TECHNOLOGIES, type PolicyForm, type PolicyResource } from '../lib/policy';
import { ago } from '../lib/format';
import { useRouter } from '../router';
import { Card, Empty, ErrorNote, Field, Loading } from '../ui';

interface Token {
  id: string;
  name: string;
  prefix?: string;
  role?: string;
  projectId?: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  maxHosts?: number;
  hostsEnrolled?: number;
}
interface Project {
  id: string;
  name: string;
  description?: string;
}
interface Group {
  id: string;
  name: string;
  policy: string;
  strict: boolean;
  maxPerHost: number | null;
}

const TABS = ['projects', 'tokens', 'enrollment', 'groups'] as const;

export function AdminPage(): ReactNode {
  const { search, navigate } = useRouter();
  const tab = (new URLSearchParams(search).get('tab') ?? 'projects') as (typeof TABS)[number];
  return (
    <div className="page" data-page="admin">
      <header className="page-head">
        <h1>Administration</h1>
      </header>
      <div className="tabs" role="tablist">
        {TABS.map((t) => (
          <button key={t} role="tab" aria-selected={tab === t} className={tab === t ? 'on' : ''} onClick={() => navigate(`/admin?tab=${t}`, { replace: true })}>
            {{ projects: 'Projects & policy', tokens: 'API tokens', enrollment: 'Enrollment tokens', groups: 'Placement groups' }[t]}
          </button>
        ))}
      </div>
      {tab === 'projects' ? <Projects /> : tab === 'tokens' ? <Tokens kind="tokens" /> : tab === 'enrollment' ? <Tokens kind="enrollment-tokens" /> : <Groups />}
    </div>
  );
}

function useProjects(): ReturnType<typeof useQuery<Project[]>> {
  return useQuery({ queryKey: ['projects'], queryFn: () => get<{ items: Project[] }>('/v1/projects').then((r) => r.items) });
}

function Projects(): ReactNode {
  const projects = useProjects();
  const qc = useQueryClient();
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>(null);
  // The project whose policy is open is in the URL (?tab=projects&policy=team-a), so a link opens it.
  const { search, navigate } = useRouter();
  const selected = new URLSearchParams(search).get('policy');
  const setSelected = (name: string): void => {
    const next = new URLSearchParams(search);
    next.set('tab', 'projects');
    next.set('policy', name);
    navigate(`/admin?${next}`, { replace: true });
  };
  const create = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    try {
      await api('POST', '/v1/projects', { name });
      setName('');
      void qc.invalidateQueries({ queryKey: ['projects'] });
    } catch (err) {
      setError(err);
    }
  };
  return (
    <div className="grid">
      <Card title="Projects">
        {!projects.data ? (
          <Loading />
        ) : (
          <table className="mini">
            <tbody>
              {projects.data.map((p) => (
                <tr key={p.id} className={selected === p.name ? 'selected' : ''}>
                  <td>{p.name}</td>
                  <td className="muted small">{p.description}</td>
                  <td>
                    <button className="small-btn" onClick={() => setSelected(p.name)} aria-label={`Policy of ${p.name}`}>
                      Policy
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <form className="inline-form" onSubmit={(e) => void create(e)}>
          <Field label="New project" name="name" error={error}>
            <input value={name} onChange={(e) => setName(e.target.value)} placeholder="team-a" />
          </Field>
          <button type="submit" disabled={!name}>
            Create
          </button>
        </form>
      </Card>
      {selected ? <Policy project={selected} /> : null}
    </div>
  );
}

interface PolicyAnswer {
  project: string;
  overrides: Record<string, unknown>;
  effective: { strategy: string; maxInstancesPerHost: number; ratios: Record<string, Record<string, number>> };
}

const RESOURCE_LABEL: Record<PolicyResource, string> = { vcpus: 'vCPU', memoryMiB: 'Memory', diskGiB: 'Disk' };

/**
 * A project's placement policy overrides as a form (blank = the global value, shown as the
 * placeholder); the API's complaints (problem+json errors[].field) appear under their fields.
 * "Edit as JSON" shows the same overrides raw.
 */
function Policy({ project }: { project: string }): ReactNode {
  const policy = useQuery({ queryKey: ['policy', project], queryFn: () => get<PolicyAnswer>(`/v1/projects/${project}/policy`) });
  const [form, setForm] = useState<PolicyForm | null>(null);
  const [raw, setRaw] = useState<string | null>(null);
  const [mode, setMode] = useState<'form' | 'json'>('form');
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const current = form ?? formFromOverrides(policy.data?.overrides);
  const edit = (f: PolicyForm): void => {
    setForm(f);
    setSaved(false);
  };
  const save = async (): Promise<void> => {
    setError(null);
    setSaved(false);
    try {
      const body = mode === 'json' ? (JSON.parse(raw ?? JSON.stringify(policy.data?.overrides ?? {})) as unknown) : overridesFromForm(current);
      const answer = await api<PolicyAnswer>('PUT', `/v1/projects/${project}/policy`, body);
      setSaved(true);
      setForm(formFromOverrides(answer.overrides));
      setRaw(null);
      void policy.refetch();
    } catch (e) {
      setError(e instanceof SyntaxError ? new Error(`Not valid JSON: ${e.message}`) : e);
    }
  };
  const eff = policy.data?.effective;
  return (
    <Card
      title={`Placement policy of ${project}`}
      actions={
        <div className="segmented" role="tablist" aria-label="Policy view">
          <button role="tab" aria-selected={mode === 'form'} className={mode === 'form' ? 'on' : ''} onClick={() => setMode('form')}>
            Form
          </button>
          <button
            role="tab"
            aria-selected={mode === 'json'}
            className={mode === 'json' ? 'on' : ''}
            onClick={() => {
              setRaw(JSON.stringify(overridesFromForm(current), null, 2));
              setMode('json');
            }}
          >
            Edit as JSON
          </button>
        </div>
      }
    >
      {policy.error ? (
        <ErrorNote error={policy.error} />
      ) : !policy.data ? (
        <Loading />
      ) : (
        <form
          className="policy-form"
          noValidate
          onSubmit={(e: FormEvent) => {
            e.preventDefault();
            void save();
          }}
        >
          <p className="muted small">What this project changes of the global policy. A blank field keeps the global value, shown in grey.</p>
          {mode === 'form' ? (
            <>
              <div className="form-row">
                <Field label="Strategy" name="strategy" error={error}>
                  <select value={current.strategy} onChange={(e) => edit({ ...current, strategy: e.target.value })}>
                    {/* With no override the policy in effect is the global one, so its value can be named. */}
                    <option value="">{policy.data.overrides.strategy ? 'The global policy’s' : `Global (${eff?.strategy ?? '—'})`}</option>
                    <option value="binpack">binpack — fill hosts first</option>
                    <option value="spread">spread — emptiest host first</option>
                  </select>
                </Field>
                <Field label="Instances per host at most" name="maxInstancesPerHost" error={error}>
                  <input inputMode="numeric" value={current.maxInstancesPerHost} placeholder={String(eff?.maxInstancesPerHost ?? '')} onChange={(e) => edit({ ...current, maxInstancesPerHost: e.target.value })} />
                </Field>
              </div>
              <table className="mini ratio-table">
                <thead>
                  <tr>
                    <th>Allocation ratio</th>
                    {POLICY_RESOURCES.map((r) => (
                      <th key={r}>{RESOURCE_LABEL[r]}</th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {POLICY_TECHNOLOGIES.map((t) => (
                    <tr key={t}>
                      <th scope="row">{t === 'vm' ? 'VMs' : 'Containers'}</th>
                      {POLICY_RESOURCES.map((r) => (
                        <td key={r}>
                          <Field label={`${t} ${RESOURCE_LABEL[r]} ratio`} name={`ratios.${t}.${r}`} error={error}>
                            <input
                              inputMode="decimal"
                              value={current.ratios[t][r]}
                              placeholder={String(eff?.ratios[t]?.[r] ?? '')}
                              onChange={(e) => edit({ ...current, ratios: { ...current.ratios, [t]: { ...current.ratios[t], [r]: e.target.value } } })}
                            />
                          </Field>
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
              <p className="muted small">Usable = capacity × ratio (e.g. 4 lets a host's vCPUs be promised four times over).</p>
            </>
          ) : (
            <textarea className="code" rows={10} value={raw ?? ''} onChange={(e) => setRaw(e.target.value)} aria-label="Policy override (JSON)" />
          )}
          <ErrorNote error={error} />
          <div className="actions">
            <button type="submit" className="primary">
              Save policy
            </button>
            {saved ? <span className="muted">Saved.</span> : null}
          </div>
        </form>
      )}
    </Card>
  );
}

function Tokens({ kind }: { kind: 'tokens' | 'enrollment-tokens' }): ReactNode {
  const qc = useQueryClient();
  const list = useQuery({ queryKey: [kind], queryFn: () => get<{ items: Token[] }>(`/v1/${kind}`).then((r) => r.items) });
  const projects = useProjects();
  const [name, setName] = useState('');
  const [role, setRole] = useState('viewer');
  const [project, setProject] = useState('');
  const [maxHosts, setMaxHosts] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [secret, setSecret] = useState<{ name: string; token: string } | null>(null);
  const create = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    try {
      const body: Record<string, unknown> = { name };
      if (kind === 'tokens') {
        body.role = role;
        if (project) body.project = project;
      } else if (maxHosts) body.maxHosts = Number(maxHosts);
      const issued = await api<{ name: string; token: string }>('POST', `/v1/${kind}`, body);
      setSecret(issued);
      setName('');
      void qc.invalidateQueries({ queryKey: [kind] });
    } catch (err) {
      setError(err);
    }
  };
  const revoke = async (id: string): Promise<void> => {
    if (!window.confirm('Revoke this token? Whoever uses it is locked out at once.')) return;
    try {
      await api('DELETE', `/v1/${kind}/${id}`);
      void qc.invalidateQueries({ queryKey: [kind] });
    } catch (err) {
      setError(err);
    }
  };
  const projectName = new Map((projects.data ?? []).map((p) => [p.id, p.name]));
  return (
    <div className="grid">
      <Card title={kind === 'tokens' ? 'API tokens' : 'Enrollment tokens'} className="wide">
        {!list.data ? (
          <Loading />
        ) : list.data.length === 0 ? (
          <Empty>No token yet.</Empty>
        ) : (
          <table className="table">
            <thead>
              <tr>
                <th>Name</th>
                {kind === 'tokens' ? (
                  <>
                    <th>Role</th>
                    <th>Project</th>
                  </>
                ) : (
                  <th>Hosts</th>
                )}
                <th>Created</th>
                <th>Expires</th>
                <th>Status</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.data.map((t) => (
                <tr key={t.id}>
                  <td>
                    {t.name} {t.prefix ? <code className="muted">{t.prefix}…</code> : null}
                  </td>
                  {kind === 'tokens' ? (
                    <>
                      <td>{t.role}</td>
                      <td>{t.projectId ? (projectName.get(t.projectId) ?? t.projectId.slice(0, 8)) : 'fleet-wide'}</td>
                    </>
                  ) : (
                    <td>
                      {t.hostsEnrolled ?? '—'} / {t.maxHosts ?? '∞'}
                    </td>
                  )}
                  <td className="muted small">{ago(t.createdAt)}</td>
                  <td className="muted small">{t.expiresAt ? new Date(t.expiresAt).toLocaleString() : 'never'}</td>
                  <td>{t.revokedAt ? <span className="badge tone-bad">revoked</span> : <span className="badge tone-ok">live</span>}</td>
                  <td>
                    {!t.revokedAt ? (
                      <button className="small-btn danger" onClick={() => void revoke(t.id)}>
                        Revoke
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      <Card title="Issue a token">
        <form onSubmit={(e) => void create(e)} className="stack">
          <Field label="Name" name="name" error={error}>
            <input name="token-name" value={name} onChange={(e) => setName(e.target.value)} placeholder={kind === 'tokens' ? 'ci-pipeline' : 'rack-7'} />
          </Field>
          {kind === 'tokens' ? (
            <>
              <Field label="Role" name="role" error={error}>
                <select value={role} onChange={(e) => setRole(e.target.value)}>
                  <option>viewer</option>
                  <option>operator</option>
                  <option>admin</option>
                </select>
              </Field>
              <Field label="Project" name="project" error={error} hint="Empty: fleet-wide">
                <select value={project} onChange={(e) => setProject(e.target.value)}>
                  <option value="">Fleet-wide</option>
                  {(projects.data ?? []).map((p) => (
                    <option key={p.id}>{p.name}</option>
                  ))}
                </select>
              </Field>
            </>
          ) : (
            <Field label="Hosts it may enroll" name="maxHosts" error={error}>
              <input type="number" min={1} value={maxHosts} onChange={(e) => setMaxHosts(e.target.value)} placeholder="100" />
            </Field>
          )}
          <button type="submit" className="primary" disabled={!name}>
            Issue
          </button>
        </form>
        {secret ? (
          <div className="secret" role="status" data-testid="secret">
            <p>
              The secret of <strong>{secret.name}</strong> — copy it now, it is shown only once:
            </p>
            <code>{secret.token}</code>
            <button className="ghost" onClick={() => setSecret(null)}>
              I have copied it
            </button>
          </div>
        ) : null}
      </Card>
    </div>
  );
}

function Groups(): ReactNode {
  const qc = useQueryClient();
  const groups = useQuery({ queryKey: ['placement-groups'], queryFn: () => get<{ items: Group[] }>('/v1/placement-groups').then((r) => r.items) });
  const [name, setName] = useState('');
  const [policy, setPolicy] = useState('anti-affinity');
  const [strict, setStrict] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const create = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    try {
      await api('POST', '/v1/placement-groups', { name, policy, strict });
      setName('');
      void qc.invalidateQueries({ queryKey: ['placement-groups'] });
    } catch (err) {
      setError(err);
    }
  };
  return (
    <div className="grid">
      <Card title="Placement groups" className="wide">
        {!groups.data ? (
          <Loading />
        ) : groups.data.length === 0 ? (
          <Empty>No placement group yet.</Empty>
        ) : (
          <table className="table">
            <tbody>
              {groups.data.map((g) => (
                <tr key={g.id}>
                  <td>{g.name}</td>
                  <td>{g.policy}</td>
                  <td>{g.strict ? 'hard' : 'soft'}</td>
                  <td>{g.maxPerHost ? `≤ ${g.maxPerHost} per host` : ''}</td>
                  <td>
                    <button className="small-btn danger" onClick={() => void api('DELETE', `/v1/placement-groups/${g.id}`).then(() => qc.invalidateQueries({ queryKey: ['placement-groups'] }), setError)}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      <Card title="New group">
        <form onSubmit={(e) => void create(e)} className="stack">
          <Field label="Name" name="name" error={error}>
            <input value={name} onChange={(e) => setName(e.target.value)} placeholder="web-tier" />
          </Field>
          <Field label="Policy" name="policy" error={error}>
            <select value={policy} onChange={(e) => setPolicy(e.target.value)}>
              <option>anti-affinity</option>
              <option>affinity</option>
            </select>
          </Field>
          <label className="check">
            <input type="checkbox" checked={strict} onChange={(e) => setStrict(e.target.checked)} /> Hard (a filter, not a preference)
          </label>
          <button type="submit" className="primary" disabled={!name}>
            Create
          </button>
          <ErrorNote error={error instanceof Error && !('fields' in error && Object.keys((error as { fields: object }).fields).length) ? error : null} />
        </form>
      </Card>
    </div>
  );
}
