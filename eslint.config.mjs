import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Layering (ARCHITECTURE.md, "The pieces"), checked here rather than by habit. In flat config
// the last matching block's options replace the earlier ones, so a block for a narrower folder
// repeats the rules of the wider one (see `restrict`).
const ALL = ['domain', 'scheduler', 'drivers', 'queue', 'config', 'db', 'observability', 'migrations', 'testing', 'api', 'controller', 'agent', 'all-in-one'];
const hp = (...names) => names.map((n) => `@hyperplane/${n}`);
const allBut = (...allowed) => hp(...ALL.filter((n) => !allowed.includes(n)));
const TECH = ['typeorm', 'typeorm/*', 'bullmq', 'ioredis', 'pg'];
const layer = {
  domain: [[...hp(...ALL.filter((n) => n !== 'domain')), '@nestjs/*', ...TECH], 'libs/domain is pure: no other @hyperplane lib, no Nest, TypeORM, BullMQ or Redis'],
  scheduler: [[...allBut('domain'), '@nestjs/*', ...TECH], 'libs/scheduler is a pure function over domain types'],
  drivers: [[...hp('queue', 'db', 'config', 'scheduler', 'migrations', 'testing', 'api', 'controller', 'agent', 'all-in-one'), ...TECH], 'libs/drivers depends on domain (wire types), not on queue, db or config'],
  queue: [hp('drivers', 'db', 'scheduler', 'migrations', 'testing', 'api', 'controller', 'agent', 'all-in-one'), 'libs/queue depends on domain, not on drivers or db'],
  db: [[...hp('queue', 'drivers', 'testing', 'api', 'controller', 'agent', 'all-in-one'), 'bullmq', 'ioredis'], 'libs/db holds SQL only: no queue, drivers or Redis'],
  config: [hp(...ALL), 'libs/config depends on no other @hyperplane lib'],
  observability: [hp(...ALL), 'libs/observability depends on no other @hyperplane lib'],
  // Relative paths into another app's sources; apps meet through their package alias only.
  otherApps: [['**/apps/*/src', '**/apps/*/src/**', ...['api', 'controller', 'agent', 'all-in-one', 'portal'].flatMap((a) => [`**/${a}/src`, `**/${a}/src/**`])], 'import another app through its @hyperplane alias, not its sources'],
  api: [hp('controller', 'agent', 'all-in-one', 'drivers', 'testing'), 'apps/api talks to hosts only through the outbox: no controller, agent or driver code'],
  controller: [hp('api', 'agent', 'all-in-one', 'drivers', 'testing'), 'apps/controller reaches hosts through their queues: no api, agent or driver code'],
  agent: [[...hp('api', 'controller', 'all-in-one', 'db', 'migrations', 'scheduler', 'testing'), 'typeorm', 'typeorm/*', 'pg'], 'apps/agent has no database access and no other app code'],
  // A service or an operation handler reaches PostgreSQL and Redis through repositories and queue helpers.
  services: [['typeorm', 'typeorm/*', 'bullmq', 'ioredis', 'pg'], 'services use repositories (libs/db) and queue helpers (libs/queue), not TypeORM, BullMQ or Redis directly'],
  // The controller's folders depend one way: results → operations → placement/hosts; reconcile → operations.
  operationsFolder: [['**/results', '**/results/**', '**/reconcile', '**/reconcile/**', '**/outbox/**', '**/webhooks/**'], 'operations/ does not depend on results/, reconcile/, outbox/ or webhooks/ (they depend on it)'],
  placementFolder: [['**/operations', '**/operations/**', '**/results/**', '**/reconcile/**', '**/hosts/**'], 'placement/ depends on no other controller folder but observability/'],
  hostsFolder: [['**/operations', '**/operations/**', '**/results/**', '**/reconcile/**'], 'hosts/ does not depend on operations/, results/ or reconcile/'],
};
const restrict = (files, ...names) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns: names.map((n) => ({ group: layer[n][0], message: layer[n][1] })) }] },
});

export default tseslint.config(
  // Fakes of host tools are plain Node scripts that tests put on the PATH, run without a build.
  // Plain .mjs scripts (the build's asset copy, the example producer, test helpers) are not typed.
  { ignores: ['dist/**', 'node_modules/**', '.data/**', 'coverage/**', '*.js', '*.mjs', '**/test/fakes/**/*.js', 'scripts/*.mjs', 'examples/**/*.mjs', 'test/support/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-redundant-type-constituents': 'off',
      'no-console': 'error',
    },
  },
  {
    files: ['**/*.spec.ts', '**/*.e2e-spec.ts', 'test/**/*.ts', 'libs/drivers/test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      'no-console': 'off',
    },
  },
  restrict(['libs/domain/src/**/*.ts'], 'domain'),
  restrict(['libs/scheduler/src/**/*.ts'], 'scheduler'),
  restrict(['libs/drivers/src/**/*.ts'], 'drivers'),
  restrict(['libs/queue/src/**/*.ts'], 'queue'),
  restrict(['libs/db/src/**/*.ts'], 'db'),
  restrict(['libs/config/src/**/*.ts'], 'config'),
  restrict(['libs/observability/src/**/*.ts'], 'observability'),
  restrict(['apps/all-in-one/src/**/*.ts'], 'otherApps'),
  restrict(['apps/api/src/**/*.ts'], 'otherApps', 'api'),
  restrict(['apps/agent/src/**/*.ts'], 'otherApps', 'agent'),
  restrict(['apps/controller/src/**/*.ts'], 'otherApps', 'controller'),
  // agent-redis.service.ts manages agents' Redis users (ACL SETUSER): it is the repository of those users.
  { ...restrict(['apps/api/src/**/*.service.ts'], 'otherApps', 'api', 'services'), ignores: ['apps/api/src/agents/agent-redis.service.ts'] },
  restrict(['apps/controller/src/**/*.service.ts', 'apps/controller/src/**/*.handler.ts'], 'otherApps', 'controller', 'services'),
  restrict(['apps/controller/src/operations/**/*.ts'], 'otherApps', 'controller', 'services', 'operationsFolder'),
  restrict(['apps/controller/src/placement/**/*.ts'], 'otherApps', 'controller', 'services', 'placementFolder'),
  restrict(['apps/controller/src/hosts/**/*.ts'], 'otherApps', 'controller', 'services', 'hostsFolder'),
);
