import { isDatabaseUnavailable } from './unavailable';

describe('isDatabaseUnavailable', () => {
  const pg = (code: string, message = 'x') => Object.assign(new Error(message), { code });
  // TypeORM wraps the driver's error in a QueryFailedError that keeps it as driverError.
  const wrapped = (inner: Error) => Object.assign(new Error(inner.message), { driverError: inner });

  it.each([
    ['a terminated session (pg_terminate_backend)', pg('57P01', 'terminating connection due to administrator command')],
    ['a server shutting down', pg('57P02')],
    ['a server starting up', pg('57P03')],
    ['a broken connection', pg('08006')],
    ['too many connections', pg('53300')],
    ['a refused socket', pg('ECONNREFUSED')],
    ['the socket closed under a query', new Error('Connection terminated unexpectedly')],
    ['a wrapped terminated session', wrapped(pg('57P01'))],
    ['a transaction whose connection died', Object.assign(new Error('Database connection provided by a query runner was already released'), { name: 'QueryRunnerProviderAlreadyReleasedError' })],
  ])('says yes for %s', (_, error) => expect(isDatabaseUnavailable(error)).toBe(true));

  it.each([
    ['a unique violation', pg('23505')],
    ['a syntax error (a bug)', wrapped(pg('42601'))],
    ['a plain error', new Error('boom')],
    ['a non-error', 'text'],
    ['null', null],
  ])('says no for %s', (_, error) => expect(isDatabaseUnavailable(error)).toBe(false));
});
