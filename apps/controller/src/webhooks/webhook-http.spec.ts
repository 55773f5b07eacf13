import { createServer } from 'node:http';
import { DestinationRefused, WebhookDestinations } from '@hyperplane/queue';
import { postWebhook } from './webhook-http';

// The guard runs again at delivery: a subscription made when a name was public must not reach
// a private address later.
describe('posting a webhook', () => {
  it('refuses loopback at delivery time unless allowed, and then posts with the headers and body', async () => {
    const got: { headers: Record<string, unknown>; body: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        got.push({ headers: req.headers, body });
        res.writeHead(302, { location: 'http://169.254.169.254/' }).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = new URL(`http://localhost:${(server.address() as { port: number }).port}/hook`);
    try {
      await expect(postWebhook(new WebhookDestinations(''), url, {}, '{}', 2000)).rejects.toBeInstanceOf(DestinationRefused);
      expect(got).toHaveLength(0);
      const answer = await postWebhook(new WebhookDestinations('127.0.0.0/8,::1/128'), url, { 'webhook-id': 'msg_1' }, '{"a":1}', 2000);
      // A redirect is an answer (a failure), never followed.
      expect(answer.status).toBe(302);
      expect(got).toHaveLength(1);
      expect(got[0]).toMatchObject({ body: '{"a":1}', headers: { 'webhook-id': 'msg_1', 'content-type': 'application/json' } });
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
