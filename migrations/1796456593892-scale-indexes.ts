import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes that keep periodic reads from growing with the tables: the running parents that
 * BatchWatcher follows every second, and the group members and macOS guests per host that every
 * placement snapshot counts (without them each read passes over every operation or instance).
 */
export class ScaleIndexes1796456593892 implements MigrationInterface {
  name = 'ScaleIndexes1796456593892';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE INDEX \"instances_vm_guests\" ON \"instances\" (\"template\", \"host_id\") WHERE technology = 'vm'");
    await queryRunner.query("CREATE INDEX \"instances_grouped\" ON \"instances\" (\"host_id\", \"placement_group_id\") WHERE placement_group_id IS NOT NULL");
    await queryRunner.query("CREATE INDEX \"operations_running_parents\" ON \"operations\" (\"id\") WHERE kind IN ('batch', 'evacuate') AND status = 'running'");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"public\".\"operations_running_parents\"");
    await queryRunner.query("DROP INDEX \"public\".\"instances_grouped\"");
    await queryRunner.query("DROP INDEX \"public\".\"instances_vm_guests\"");
  }
}
