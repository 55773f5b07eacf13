import { Writable } from 'node:stream';
import { JsonLogger, resolveLogFormat } from './app-logger';
import { withRequestId } from './request-context';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  let out = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      out += chunk.toString();
      done();
    },
  });
  return { stream, lines: () => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('logs', () => {
  it('are text on a terminal and JSON otherwise, unless LOG_FORMAT says', () => {
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
  });

  it('write one JSON object a line with the context, and the request id of the work in progress', () => {
    const { stream, lines } = capture();
    const logger = new JsonLogger('log', stream);
    logger.log('outside', 'api');
    withRequestId('req-42', () => logger.warn('inside', 'agent'));
    logger.debug('below the level', 'agent');
    logger.error('broke', 'Error: broke\n    at x', 'controller');
    const [outside, inside, broke] = lines();
    expect(lines()).toHaveLength(3);
    expect(outside).toMatchObject({ level: 'info', context: 'api', msg: 'outside' });
    expect(outside).not.toHaveProperty('requestId');
    expect(inside).toMatchObject({ level: 'warn', context: 'agent', msg: 'inside', requestId: 'req-42' });
    expect(broke).toMatchObject({ level: 'error', context: 'controller', msg: 'broke', stack: 'Error: broke\n    at x' });
    expect(typeof outside!.time).toBe('string');
  });

  it('put the fields of a structured line into the JSON', () => {
    const { stream, lines } = capture();
    withRequestId('req-7', () => new JsonLogger('log', stream).log({ msg: 'POST /v1/instances 202', status: 202, durationMs: 3 }, 'http'));
    expect(lines()[0]).toMatchObject({ context: 'http', msg: 'POST /v1/instances 202', status: 202, durationMs: 3, requestId: 'req-7' });
  });

  it('keep the request id across awaits', async () => {
    const { stream, lines } = capture();
    const logger = new JsonLogger('log', stream);
    await withRequestId('req-async', async () => {
      await new Promise((r) => setTimeout(r, 1));
      logger.log('later', 'controller');
    });
    expect(lines()[0]).toMatchObject({ requestId: 'req-async' });
  });
});
