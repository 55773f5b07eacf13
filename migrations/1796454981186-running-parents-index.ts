import { MigrationInterface, QueryRunner } from 'typeorm';

export class RunningParentsIndex1796454981186 implements MigrationInterface {
  name = 'RunningParentsIndex1796454981186';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE INDEX \"operations_running_parents\" ON \"operations\" (\"id\") WHERE kind IN ('batch', 'evacuate') AND status = 'running'");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"public\".\"operations_running_parents\"");
  }
}
