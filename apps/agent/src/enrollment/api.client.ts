import { HostInventory, MAX_HOSTS_PER_AGENT_REQUEST } from '@hyperplane/domain';
import { httpRequest } from './http-request';

export interface EnrollResponse {
  agentId: string;
  credential: string;
  redis: { username: string; password: string } | null;
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

export interface RotateResponse {
  agentId: string;
  credential: string;
  redis: { username: string; password: string } | null;
}

/** The agent's only HTTP calls: enroll once, report inventory at each start, rotate its credential. */
export class AgentApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly tls: { ca?: string } = {},
  ) {
    if (!/^https?:\/\//i.test(baseUrl)) throw new Error(`the API URL must be http:// or https://, not ${baseUrl}`);
  }

  /** A new credential and Redis password; the old ones stop working. */
  async rotate(credential: string): Promise<RotateResponse> {
    return this.call<RotateResponse>('POST', '/v1/agents/rotate', credential, {});
  }

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

  /** HA: of what each host holds, what now lives elsewhere (`foreign`) and the host's HA instances. */
  async assignments(credential: string, hosts: { hostId: string; instanceIds: string[] }[]): Promise<{ hosts: { hostId: string; foreign: string[]; ha: string[] }[] }> {
    return this.call('POST', '/v1/agents/assignments', credential, { hosts });
  }

  private async call<T>(method: string, path: string, secret: string, body: unknown): Promise<T> {
    const res = await httpRequest(this.baseUrl + path, {
      method,
      headers: { Authorization: `Bearer ${secret}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      timeoutMs: 60_000,
      ca: this.tls.ca,
    });
    const text = res.body;
    if (res.status < 200 || res.status >= 300) {
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
