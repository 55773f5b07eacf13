import { simHost, startStack, Stack } from '@hyperplane/testing';

// A cancel of an instance's queued operation and a delete of the same instance, sent at the
// same moment. Both write the operation and the instance; taken in opposite orders, the locks
// deadlocked in PostgreSQL and one of the two answered 500.
const ROUNDS = 30;

const spec = (name: string): Record<string, unknown> => ({ name, template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } });

describe('a cancel and a delete of the same instance at the same moment', () => {
  describe('while its create is still queued', () => {
    let stack: Stack;
    // No controller: the creates stay queued, as a busy controller would leave them.
    beforeAll(async () => {
      stack = await startStack({ noAgent: true, noController: true });
    });
    afterAll(() => stack.stop());

    it(`never answers 500 in ${ROUNDS} rounds; the cancel wins and the delete gets a 409 saying with what`, async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const created = await stack.client.post('/v1/instances', spec(`queued-${round}`));
        expect(created.status).toBe(202);
        const [cancel, del] = await Promise.all([
          stack.client.post(`/v1/operations/${created.body.id}/cancel`),
          stack.client.delete(`/v1/instances/${created.body.instanceId}`),
        ]);
        // The cancel wins. The delete came either while the create was still active (409 naming
        // it), or once the cancel had removed the instance: a 409 saying it is deleted when the
        // delete had already read it, else a 404, the answer for an instance that is gone.
        expect({ round, cancel: cancel.status, del: del.status === 404 ? 409 : del.status }).toEqual({ round, cancel: 200, del: 409 });
        expect(cancel.body.status).toBe('cancelled');
        expect(del.body.detail).toMatch(new RegExp(del.status === 404 ? created.body.instanceId : `active operation ${created.body.id}|is deleted`));
        expect((await stack.client.get(`/v1/instances/${created.body.instanceId}`)).status).toBe(404);
      }
      const { rows } = await stack.sql.query(`SELECT count(*)::int AS n FROM operations WHERE status IN ('queued', 'running')`);
      expect(rows[0].n).toBe(0);
    });
  });

  describe('of a running instance whose stop is queued', () => {
    let stack: Stack;
    const ids: string[] = [];
    beforeAll(async () => {
      stack = await startStack({ simHosts: [simHost('race-1', 'linux', 'x86_64')] });
      const made = await Promise.all(Array.from({ length: ROUNDS }, (_, i) => stack.client.createAndWait(spec(`running-${i}`), 120)));
      for (const { op, instance } of made) {
        expect(op.status).toBe('succeeded');
        ids.push(instance.id);
      }
      // The stops must stay queued until the race is run.
      await stack.stopController();
    });
    afterAll(() => stack.stop());

    it(`never answers 500 in ${ROUNDS} rounds, and what each answer says is what happened`, async () => {
      const outcomes = { deleted: 0, refused: 0 };
      for (const [round, id] of ids.entries()) {
        const stop = await stack.client.post(`/v1/instances/${id}/actions/stop`);
        expect(stop.status).toBe(202);
        const [cancel, del] = await Promise.all([stack.client.post(`/v1/operations/${stop.body.id}/cancel`), stack.client.delete(`/v1/instances/${id}`)]);
        expect({ round, cancel: cancel.status }).toEqual({ round, cancel: 200 });
        expect([202, 409]).toContain(del.status);
        const instance = (await stack.sql.query('SELECT state, desired_state FROM instances WHERE id = $1', [id])).rows[0];
        const active = (await stack.sql.query(`SELECT id, kind FROM operations WHERE instance_id = $1 AND status IN ('queued', 'running')`, [id])).rows;
        expect(instance.state).toBe('running');
        if (del.status === 202) {
          // The cancel went first: the stop is gone and the delete is what is left to do.
          outcomes.deleted++;
          expect(active).toEqual([{ id: del.body.id, kind: 'delete' }]);
          expect(instance.desired_state).toBe('deleted');
        } else {
          // The delete went first and found the stop still queued.
          outcomes.refused++;
          expect(del.body.detail).toContain(`active operation ${stop.body.id}`);
          expect(del.body.operationId).toBe(stop.body.id);
          expect(active).toEqual([]);
          expect(instance.desired_state).toBe('running');
        }
      }
      expect(outcomes.deleted + outcomes.refused).toBe(ROUNDS);
    });
  });
});
