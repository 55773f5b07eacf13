import { ConfigError, loadConfig, preparedStatements } from './app-config';

describe('loadConfig', () => {
  it('gives defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(3000);
    expect(config.HYPERPLANE_SIM_HOSTS).toBe(0);
    expect(config.HYPERPLANE_MIGRATE).toBe(true);
  });

  it('converts numbers and booleans from strings', () => {
    const config = loadConfig({ PORT: '8080', HYPERPLANE_MIGRATE: 'false', HYPERPLANE_SIM_TIME_SCALE: '0.01' });
    expect(config.PORT).toBe(8080);
    expect(config.HYPERPLANE_MIGRATE).toBe(false);
    expect(config.HYPERPLANE_SIM_TIME_SCALE).toBe(0.01);
  });

  it('names every bad variable', () => {
    expect(() => loadConfig({ PORT: 'abc', DATABASE_URL: 'mysql://x' })).toThrow(ConfigError);
    try {
      loadConfig({ PORT: 'abc', DATABASE_URL: 'mysql://x' });
    } catch (e) {
      expect(String(e)).toContain('PORT');
      expect(String(e)).toContain('DATABASE_URL');
    }
  });
});

describe('.env.example', () => {
  it('lists every variable the config reads, with the same defaults', () => {
    const { readFileSync } = jest.requireActual<typeof import('node:fs')>('node:fs');
    const { getMetadataStorage } = jest.requireActual<typeof import('class-validator')>('class-validator');
    const { AppConfig } = jest.requireActual<typeof import('./app-config')>('./app-config');
    const text = readFileSync(`${__dirname}/../../../.env.example`, 'utf8');
    const listed = new Map<string, string | null>();
    for (const line of text.split('\n')) {
      const m = /^(#\s*)?([A-Z][A-Z0-9_]+)=(.*)$/.exec(line);
      if (m) listed.set(m[2]!, m[1] ? null : m[3]!);
    }
    const read = new Set(getMetadataStorage().getTargetValidationMetadatas(AppConfig, '', true, false).map((m) => m.propertyName));
    expect([...listed.keys()].sort()).toEqual([...read].sort());
    const defaults = loadConfig({}) as unknown as Record<string, unknown>;
    for (const [name, value] of listed) if (value !== null) expect([name, String(defaults[name])]).toEqual([name, value]);
  });
});

describe('prepared statements', () => {
  it('are on against PostgreSQL itself, off behind a transaction-mode pooler or when turned off', () => {
    expect(preparedStatements(loadConfig({}))).toBe(true);
    expect(preparedStatements(loadConfig({ HYPERPLANE_DATABASE_PREPARED_STATEMENTS: 'false' }))).toBe(false);
    // A session URL means DATABASE_URL is a pooler (PgBouncer): its connections are not the sessions statements were prepared in.
    expect(preparedStatements(loadConfig({ HYPERPLANE_DATABASE_SESSION_URL: 'postgres://db:5432/hyperplane' }))).toBe(false);
  });
});
