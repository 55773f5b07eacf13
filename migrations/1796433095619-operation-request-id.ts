import { MigrationInterface, QueryRunner } from 'typeorm';

export class OperationRequestId1796433095619 implements MigrationInterface {
  name = 'OperationRequestId1796433095619';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"operations\" ADD \"request_id\" character varying(128)");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"operations\" DROP COLUMN \"request_id\"");
  }
}
