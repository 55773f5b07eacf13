import { DestinationRefused, WebhookDestinations } from './webhook-destination';

describe('webhook destinations (SSRF guard)', () => {
  const guard = new WebhookDestinations('');

  it.each(['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::'])(
    'refuses %s by default',
    (address) => expect(guard.permits(address)).toBe(false),
  );

  it.each(['93.184.216.34', '8.8.8.8', '2606:4700::1111'])('permits the public address %s', (address) => expect(guard.permits(address)).toBe(true));

  it('refuses a URL whose name resolves to loopback, and one with a literal private address', async () => {
    await expect(guard.resolve(new URL('http://localhost:8080/hook'))).rejects.toBeInstanceOf(DestinationRefused);
    await expect(guard.resolve(new URL('http://[::1]/hook'))).rejects.toBeInstanceOf(DestinationRefused);
    await expect(guard.resolve(new URL('http://169.254.169.254/latest/meta-data'))).rejects.toThrow(/link-local or private/);
    await expect(guard.resolve(new URL('ftp://93.184.216.34/'))).rejects.toThrow(/http or https/);
  });

  it('opens exactly the allow-listed networks', async () => {
    const open = new WebhookDestinations('127.0.0.0/8, ::1/128');
    expect(open.permits('127.0.0.1')).toBe(true);
    expect(open.permits('::1')).toBe(true);
    expect(open.permits('10.0.0.1')).toBe(false);
    await expect(open.resolve(new URL('http://127.0.0.1:9/x'))).resolves.toEqual([{ address: '127.0.0.1', family: 4 }]);
  });

  it('refuses a malformed allow-list', () => {
    expect(() => new WebhookDestinations('not-a-net/8')).toThrow(/not a network/);
  });
});
