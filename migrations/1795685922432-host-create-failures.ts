import { MigrationInterface, QueryRunner } from 'typeorm';

/** Creates that failed on a host since the last one that succeeded: the scheduler ranks such a host last. */
export class HostCreateFailures1795685922432 implements MigrationInterface {
  name = 'HostCreateFailures1795685922432';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"hosts\" ADD \"create_failures\" integer NOT NULL DEFAULT '0'");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"hosts\" DROP COLUMN \"create_failures\"");
  }
}
