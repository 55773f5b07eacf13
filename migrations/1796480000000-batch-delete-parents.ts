import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Batch deletes (POST /v1/instances/batch-delete) are parents of their own kind, `batch-delete`,
 * which BatchWatcher follows like batches and evacuations: its index of running parents holds
 * them too.
 */
export class BatchDeleteParents1796480000000 implements MigrationInterface {
  name = 'BatchDeleteParents1796480000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."operations_running_parents"');
    await queryRunner.query(`CREATE INDEX "operations_running_parents" ON "operations" ("id") WHERE kind IN ('batch', 'batch-delete', 'evacuate') AND status = 'running'`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."operations_running_parents"');
    await queryRunner.query(`CREATE INDEX "operations_running_parents" ON "operations" ("id") WHERE kind IN ('batch', 'evacuate') AND status = 'running'`);
  }
}
