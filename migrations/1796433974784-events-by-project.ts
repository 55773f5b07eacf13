import { MigrationInterface, QueryRunner } from 'typeorm';

export class EventsByProject1796433974784 implements MigrationInterface {
  name = 'EventsByProject1796433974784';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE INDEX \"events_project\" ON \"events\" (\"project_id\", \"id\") ");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"public\".\"events_project\"");
  }
}
