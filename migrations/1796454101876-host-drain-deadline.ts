import { MigrationInterface, QueryRunner } from 'typeorm';

export class HostDrainDeadline1796454101876 implements MigrationInterface {
  name = 'HostDrainDeadline1796454101876';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"hosts\" ADD \"drain_deadline\" TIMESTAMP WITH TIME ZONE");
    await queryRunner.query("ALTER TABLE \"hosts\" ADD \"drain_deadline_reached_at\" TIMESTAMP WITH TIME ZONE");
    await queryRunner.query("ALTER TABLE \"hosts\" ADD \"drain_evacuation_id\" uuid");
    await queryRunner.query("CREATE INDEX \"hosts_drain_due\" ON \"hosts\" (\"drain_deadline\") WHERE drain_deadline IS NOT NULL AND drain_deadline_reached_at IS NULL");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"public\".\"hosts_drain_due\"");
    await queryRunner.query("ALTER TABLE \"hosts\" DROP COLUMN \"drain_evacuation_id\"");
    await queryRunner.query("ALTER TABLE \"hosts\" DROP COLUMN \"drain_deadline_reached_at\"");
    await queryRunner.query("ALTER TABLE \"hosts\" DROP COLUMN \"drain_deadline\"");
  }
}
