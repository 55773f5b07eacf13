import { HostInventory } from '@hyperplane/domain';

export interface EnrollResponse {
  credential: string;
  hosts: { id: string; name: string; queue: string }[];
}

/** As the API accepts: one agent process speaks for at most this many hosts. */
export const MAX_HOSTS_PER_REQUEST = 20_000;

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

  /** All the agent's hosts in one request: they share one credential. */
  async enroll(enrollmentToken: string, hosts: HostInventory[]): Promise<EnrollResponse> {
    return this.call<EnrollResponse>('POST', '/v1/agents/enroll', enrollmentToken, { hosts });
  }

  async reportInventory(credential: string, reports: { hostId: string; inventory: HostInventory }[]): Promise<void> {
    for (let i = 0; i < reports.length; i += MAX_HOSTS_PER_REQUEST) {
      await this.call('PUT', '/v1/agents/inventory', credential, { hosts: reports.slice(i, i + MAX_HOSTS_PER_REQUEST) });
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
