import { request as httpRequest, IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { WebhookDestinations } from '@hyperplane/queue';

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
}

/**
 * POSTs `body` to `url` and resolves with the status (the answer's body is read and dropped).
 * The connection goes only to addresses checked just before (resolve, then connect to exactly
 * those), so a DNS answer that changes between the check and the connect cannot get through.
 * Redirects are not followed (Standard Webhooks: a 3xx is a failure).
 */
export async function postWebhook(destinations: WebhookDestinations, url: URL, headers: Record<string, string>, body: string, timeoutMs: number): Promise<HttpAnswer> {
  const addresses = await destinations.resolve(url);
  const pinned: LookupFunction = (_host, options, callback) => {
    const family = typeof options === 'object' && options.family ? Number(options.family) : 0;
    const usable = addresses.filter((a) => family === 0 || a.family === family);
    if (options && typeof options === 'object' && options.all) (callback as (e: null, a: typeof usable) => void)(null, usable);
    else callback(null, usable[0]?.address ?? '', usable[0]?.family ?? 4);
  };
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<HttpAnswer>((resolve, reject) => {
    const req = send(
      url,
      { method: 'POST', headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body).toString() }, lookup: pinned, timeout: timeoutMs },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
