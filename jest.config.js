// Unit specs live beside the code (*.spec.ts); integration and end-to-end suites under test/
// (*.e2e-spec.ts) run against real PostgreSQL and Redis. TypeScript is compiled by swc.
const swc = ['@swc/jest', JSON.parse(require('node:fs').readFileSync(`${__dirname}/.swcrc`, 'utf8'))];

const moduleNameMapper = {
  '^@hyperplane/(domain|scheduler|drivers|queue|config|db|observability)$': '<rootDir>/libs/$1/src',
  '^@hyperplane/(api|controller|agent|all-in-one)$': '<rootDir>/apps/$1/src',
  '^@hyperplane/testing$': '<rootDir>/test/support',
  '^@hyperplane/migrations$': '<rootDir>/migrations',
};

const common = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper,
  setupFiles: ['reflect-metadata'],
  modulePathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/.data/'],
};

module.exports = {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/libs/**/*.spec.ts', '<rootDir>/apps/**/*.spec.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/test/support/jest-setup.ts'],
    },
  ],
};
