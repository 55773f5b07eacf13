import { HostInventory, MAX_HOSTS_PER_AGENT_REQUEST } from '@hyperplane/domain';

export interface EnrollResponse {
  credential: string;
  hosts: { id: string; name: string; queue: string }[];
}


export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The agent's only HTTP calls: enroll once, report inventory at each start. */
export class AgentApiClient {
  constructor(private readonly baseUrl: string) {}

  /**
   * All the agent's hosts, under one credential: the first page with the enrollment token,
   * the rest with the credential it returned.
   */
  async enroll(enrollmentToken: string, hosts: HostInventory[]): Promise<EnrollResponse> {
    const first = await this.call<EnrollResponse>('POST', '/v1/agents/enroll', enrollmentToken, { hosts: hosts.slice(0, MAX_HOSTS_PER_AGENT_REQUEST) });
    for (let i = MAX_HOSTS_PER_AGENT_REQUEST; i < hosts.length; i += MAX_HOSTS_PER_AGENT_REQUEST) {
      const page = await this.call<{ hosts: EnrollResponse['hosts'] }>('POST', '/v1/agents/hosts', first.credential, { hosts: hosts.slice(i, i + MAX_HOSTS_PER_AGENT_REQUEST) });
      first.hosts.push(...page.hosts);
    }
    return first;
  }

  async reportInventory(credential: string, reports: { hostId: string; inventory: HostInventory }[]): Promise<void> {
    for (let i = 0; i < reports.length; i += MAX_HOSTS_PER_AGENT_REQUEST) {
      await this.call('PUT', '/v1/agents/inventory', credential, { hosts: reports.slice(i, i + MAX_HOSTS_PER_AGENT_REQUEST) });
    }
  }

  private async call<T>(method: string, path: string, secret: string, body: unknown): Promise<T> {
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: { Authorization: `Bearer ${secret}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    if (!res.ok) {
      let detail = text;
      try {
        detail = (JSON.parse(text) as { detail?: string }).detail ?? text;
      } catch {
        // keep the raw text
      }
      throw new ApiError(res.status, `${method} ${path}: ${res.status} ${detail}`);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }
}
