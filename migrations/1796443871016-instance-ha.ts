import { MigrationInterface, QueryRunner } from 'typeorm';

export class InstanceHa1796443871016 implements MigrationInterface {
  name = 'InstanceHa1796443871016';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"instances\" ADD \"ha\" jsonb");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"instances\" DROP COLUMN \"ha\"");
  }
}
