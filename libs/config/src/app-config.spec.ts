import { ConfigError, loadConfig } from './app-config';

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
