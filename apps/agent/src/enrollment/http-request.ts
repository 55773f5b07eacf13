import { request as httpPlain } from 'node:http';
import { request as httpsRequest, RequestOptions } from 'node:https';

export interface HttpRequest {
  method: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** PEM certificates to trust for https:// (a private CA); the system's otherwise. */
  ca?: string;
}

/** The options node:https gets for `url`: certificates are always verified; `ca` replaces the system's. */
export function requestOptions(url: URL, req: Pick<HttpRequest, 'method' | 'headers' | 'ca'>): RequestOptions {
  const opts: RequestOptions = { method: req.method, headers: req.headers };
  if (url.protocol === 'https:' && req.ca) opts.ca = req.ca;
  return opts;
}

/**
 * One HTTP(S) request. node:https rather than fetch: fetch takes no CA of its own without the
 * undici package, and an agent behind a private CA needs one.
 */
export function httpRequest(target: string, req: HttpRequest): Promise<{ status: number; body: string }> {
  const url = new URL(target);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return Promise.reject(new Error(`unsupported URL ${url.protocol}`));
  const send = url.protocol === 'https:' ? httpsRequest : httpPlain;
  return new Promise((resolve, reject) => {
    const r = send(url, requestOptions(url, req), (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    r.setTimeout(req.timeoutMs, () => r.destroy(new Error(`${req.method} ${url.pathname}: no answer in ${req.timeoutMs} ms`)));
    r.on('error', reject);
    if (req.body !== undefined) r.end(req.body);
    else r.end();
  });
}
