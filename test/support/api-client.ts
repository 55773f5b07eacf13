export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A small HTTP client for tests: JSON in, JSON (or problem+json) out, never throws on status. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    readonly token: string,
  ) {}

  as(token: string): ApiClient {
    return new ApiClient(this.baseUrl, token);
  }

  async request<T = any>(method: string, path: string, opts: { body?: unknown; raw?: string; headers?: Record<string, string>; token?: string | null } = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const token = opts.token === undefined ? this.token : opts.token;
    if (token) headers.Authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined && !headers['Content-Type']) headers['Content-Type'] = 'application/json';
    const res = await fetch(this.baseUrl + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  get<T = any>(path: string): Promise<Reply<T>> {
    return this.request<T>('GET', path);
  }

  post<T = any>(path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply<T>> {
    return this.request<T>('POST', path, { body: body ?? {}, headers });
  }

  delete<T = any>(path: string, headers?: Record<string, string>): Promise<Reply<T>> {
    return this.request<T>('DELETE', path, { headers });
  }

  /** Waits for an operation to end (server-side wait), failing the test on a timeout. */
  async waitOp(id: string, timeoutS = 60): Promise<any> {
    const deadline = Date.now() + timeoutS * 1000;
    for (;;) {
      const left = Math.max(1, Math.min(30, Math.ceil((deadline - Date.now()) / 1000)));
      const r = await this.get(`/v1/operations/${id}/wait?timeoutS=${left}`);
      if (r.status !== 200) throw new Error(`wait ${id}: ${r.status} ${JSON.stringify(r.body)}`);
      if (['succeeded', 'failed', 'cancelled'].includes(r.body.status)) return r.body;
      if (Date.now() > deadline) throw new Error(`operation ${id} still ${r.body.status} (${r.body.step}) after ${timeoutS} s`);
    }
  }

  /** POSTs an instance and waits for its create operation. */
  async createAndWait(spec: Record<string, unknown>, timeoutS = 60): Promise<{ op: any; instance: any }> {
    const r = await this.post('/v1/instances', spec);
    if (r.status !== 202) throw new Error(`create ${JSON.stringify(spec)}: ${r.status} ${JSON.stringify(r.body)}`);
    const op = await this.waitOp(r.body.id, timeoutS);
    const instance = (await this.get(`/v1/instances/${r.body.instanceId}`)).body;
    return { op, instance };
  }

  async act(instanceId: string, action: string, timeoutS = 60): Promise<any> {
    const r = await this.post(`/v1/instances/${instanceId}/actions/${action}`);
    if (r.status !== 202) throw new Error(`${action} ${instanceId}: ${r.status} ${JSON.stringify(r.body)}`);
    return this.waitOp(r.body.id, timeoutS);
  }
}
