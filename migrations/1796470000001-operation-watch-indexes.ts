import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The two reads the controller repeats over active operations read only what they return,
 * however many operations are active (a million children of big batches):
 * - operations that wait on a job and were not touched for a while (OperationReconciler): by
 *   `updated_at`, among operations that have a job. Before, the index held every queued or
 *   running operation, so each read passed over all the batch children still waiting for
 *   placement (they have no job yet) and left them out one by one: 1 s a read at a million.
 *   A batch child now enters this index only when it is dispatched, not when it is made.
 * - running operations past their deadline (OperationInterrupts): by `started_at`. Before,
 *   every running operation was read and its age computed: 0.6 s a read at a million.
 */
export class OperationWatchIndexes1796470000001 implements MigrationInterface {
  name = 'OperationWatchIndexes1796470000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."operations_active"');
    await queryRunner.query(`CREATE INDEX "operations_stale" ON "operations" ("updated_at") WHERE status IN ('queued', 'running') AND job_queue IS NOT NULL`);
    await queryRunner.query(`CREATE INDEX "operations_running_since" ON "operations" ("started_at") WHERE status = 'running'`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."operations_running_since"');
    await queryRunner.query('DROP INDEX "public"."operations_stale"');
    await queryRunner.query(`CREATE INDEX "operations_active" ON "operations" ("status", "updated_at") WHERE status IN ('queued', 'running')`);
  }
}
