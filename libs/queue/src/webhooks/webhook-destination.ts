import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

// Where a webhook must not go unless allowed: loopback, link-local (cloud metadata), private,
// shared, benchmark, multicast and reserved ranges, and IPv6's equivalents (BlockList checks an
// IPv4-mapped IPv6 address against the IPv4 rules, so ::ffff:127.0.0.1 is refused as 127.0.0.1).
const FORBIDDEN_V4: [string, number][] = [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
];
const FORBIDDEN_V6: [string, number][] = [
  ['::', 128], ['::1', 128], ['64:ff9b::', 96], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8],
];

export class DestinationRefused extends Error {}

/** Decides which addresses webhooks may reach: public ones, plus the configured allow-list. */
export class WebhookDestinations {
  private readonly forbidden = new BlockList();
  private readonly allowed = new BlockList();

  /** `allowedNetworks`: comma-separated CIDRs (HYPERPLANE_WEBHOOK_ALLOWED_NETWORKS). */
  constructor(allowedNetworks: string) {
    for (const [net, bits] of FORBIDDEN_V4) this.forbidden.addSubnet(net, bits, 'ipv4');
    for (const [net, bits] of FORBIDDEN_V6) this.forbidden.addSubnet(net, bits, 'ipv6');
    for (const cidr of allowedNetworks.split(',').map((s) => s.trim()).filter(Boolean)) {
      const [net = '', bits] = cidr.split('/');
      const family = isIP(net);
      if (family === 0) throw new Error(`HYPERPLANE_WEBHOOK_ALLOWED_NETWORKS: ${cidr} is not a network`);
      this.allowed.addSubnet(net, Number(bits ?? (family === 4 ? 32 : 128)), family === 4 ? 'ipv4' : 'ipv6');
    }
  }

  permits(address: string): boolean {
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    return !this.forbidden.check(address, type) || this.allowed.check(address, type);
  }

  /**
   * Resolves the URL's host and checks every address (one bad address refuses the URL: DNS
   * may answer either). Returns the addresses to connect to; throws DestinationRefused.
   */
  async resolve(url: URL): Promise<{ address: string; family: number }[]> {
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new DestinationRefused('the URL must be http or https');
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const found = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true, verbatim: true }).catch(() => []);
    if (found.length === 0) throw new DestinationRefused(`${host} does not resolve`);
    const bad = found.find((a) => !this.permits(a.address));
    if (bad) throw new DestinationRefused(`${host} resolves to ${bad.address}, a loopback, link-local or private address (see HYPERPLANE_WEBHOOK_ALLOWED_NETWORKS)`);
    return found;
  }
}
