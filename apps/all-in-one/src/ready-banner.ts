/** Where the admin token the banner speaks of came from. */
import type { BootstrapOrigin as TokenOrigin } from '@hyperplane/api';

export type { TokenOrigin };

/**
 * What `npm start` prints last, once its hosts are ready: the URL, the docs and the admin token
 * (or where it came from), set apart from the log lines so that a newcomer cannot miss it.
 */
export function readyBanner(opts: { url: string; hosts: number; ready: number; token: TokenOrigin }): string {
  const token =
    opts.token.kind === 'new'
      ? [`admin token  ${opts.token.secret}`, '             (new: shown this once; keep it)']
      : opts.token.kind === 'configured'
        ? ['admin token  the value of HYPERPLANE_ADMIN_TOKEN']
        : ['admin token  the one printed at the first start; lost it? set HYPERPLANE_ADMIN_TOKEN and restart'];
  const hosts = opts.ready === opts.hosts ? `${opts.hosts} host(s) ready` : `${opts.ready} of ${opts.hosts} host(s) ready (the rest still enrolling)`;
  const lines = [
    `Hyperplane is ready: ${hosts}`,
    '',
    `portal       ${opts.url}/   (sign in with the admin token)`,
    `API          ${opts.url}/v1`,
    `API docs     ${opts.url}/docs`,
    ...token,
    '',
    `try          curl -H "Authorization: Bearer <token>" ${opts.url}/v1/hosts`,
  ];
  const rule = '='.repeat(Math.min(100, Math.max(...lines.map((l) => l.length)) + 4));
  return ['', rule, ...lines.map((l) => (l ? `  ${l}` : '')), rule, ''].join('\n') + '\n';
}
