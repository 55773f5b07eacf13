import { randomUUID } from 'node:crypto';
import { AgentResultPayload, commandBatchJobId, hostJobId } from '@hyperplane/queue';
import { answersJob } from './result.applier';

describe('which job a result answers', () => {
  const op = { id: randomUUID(), jobId: '' };
  const batch = commandBatchJobId(randomUUID());
  const result = (r: Partial<AgentResultPayload>): AgentResultPayload => ({ operationId: op.id, instanceId: randomUUID(), hostId: randomUUID(), command: 'create', ok: true, state: 'running', ...r });

  it('takes the result of the job the operation waits for, and no other', () => {
    expect(answersJob({ ...op, jobId: batch }, result({ jobId: batch }))).toBe(true);
    expect(answersJob({ ...op, jobId: batch }, result({ jobId: commandBatchJobId(randomUUID()) }))).toBe(false);
    expect(answersJob({ ...op, jobId: hostJobId(op.id, 'start') }, result({ command: 'start' }))).toBe(true);
    expect(answersJob({ ...op, jobId: hostJobId(op.id, 'start') }, result({ command: 'stop' }))).toBe(false);
  });

  it("takes a create's success from its batch once the create was sent again alone (the batch's report came late)", () => {
    const alone = { ...op, jobId: hostJobId(op.id, 'create') };
    expect(answersJob(alone, result({ jobId: batch }))).toBe(true);
    // Not a failure (the resend may still succeed), not another command, not another operation's resend.
    expect(answersJob(alone, result({ jobId: batch, ok: false, state: undefined, error: { code: 'Unavailable', message: 'x' } }))).toBe(false);
    expect(answersJob(alone, result({ jobId: batch, command: 'destroy' }))).toBe(false);
    expect(answersJob({ id: randomUUID(), jobId: hostJobId(op.id, 'create') }, result({ jobId: batch }))).toBe(false);
    // A retry on another attempt (create-retry) waits for its own job.
    expect(answersJob({ ...op, jobId: hostJobId(op.id, 'create', 2) }, result({ jobId: batch }))).toBe(false);
  });

  it("takes a batch delete's destroy from its batch once the destroy was sent again alone", () => {
    const alone = { ...op, jobId: hostJobId(op.id, 'destroy') };
    expect(answersJob(alone, result({ jobId: batch, command: 'destroy', state: undefined }))).toBe(true);
    expect(answersJob(alone, result({ jobId: batch, command: 'create' }))).toBe(false);
  });
});
