import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A change of an instance's state alone becomes a HOT update (no index entries written): no
 * index names `state` any more, in its columns or its condition. The two indexes that need it
 * use stored flags derived from it, which change only on entering or leaving those states.
 * Instances leave room on each page for those updates. The events' age index becomes BRIN.
 */
export class HotInstanceStates1795681827563 implements MigrationInterface {
  name = 'HotInstanceStates1795681827563';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."IDX_84ff7e0e9b8ca4e5d243715b59"`);
    await queryRunner.query(`ALTER TABLE "instances" ADD "live" boolean GENERATED ALWAYS AS (state <> 'deleted') STORED NOT NULL`);
    await queryRunner.query(`ALTER TABLE "instances" ADD "unschedulable" boolean GENERATED ALWAYS AS (state = 'unschedulable') STORED NOT NULL`);
    // TypeORM reads a generated column's expression from its own table (to compare the schema
    // with the entities). It makes that table itself, like "migrations", and keeps it.
    await queryRunner.query(
      `CREATE TABLE IF NOT EXISTS "typeorm_metadata" ("type" character varying NOT NULL, "database" character varying, "schema" character varying, "table" character varying, "name" character varying, "value" text)`,
    );
    await queryRunner.query(
      `INSERT INTO "typeorm_metadata" ("database", "schema", "table", "type", "name", "value")
       VALUES (current_database(), current_schema(), 'instances', 'GENERATED_COLUMN', 'live', 'state <> ''deleted'''),
              (current_database(), current_schema(), 'instances', 'GENERATED_COLUMN', 'unschedulable', 'state = ''unschedulable''')`,
    );
    await queryRunner.query(`DROP INDEX "public"."instances_project_name_live"`);
    await queryRunner.query(`CREATE UNIQUE INDEX "instances_project_name_live" ON "instances" ("project_id", "name") WHERE live`);
    await queryRunner.query(`CREATE INDEX "instances_unschedulable" ON "instances" ("id") WHERE unschedulable`);
    await queryRunner.query(`ALTER TABLE "instances" SET (fillfactor = 70)`);
    await queryRunner.query(`DROP INDEX "public"."events_created"`);
    await queryRunner.query(`CREATE INDEX "events_created" ON "events" USING brin ("created_at")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."events_created"`);
    await queryRunner.query(`CREATE INDEX "events_created" ON "events" ("created_at")`);
    await queryRunner.query(`ALTER TABLE "instances" RESET (fillfactor)`);
    await queryRunner.query(`DROP INDEX "public"."instances_unschedulable"`);
    await queryRunner.query(`DROP INDEX "public"."instances_project_name_live"`);
    await queryRunner.query(`CREATE UNIQUE INDEX "instances_project_name_live" ON "instances" ("project_id", "name") WHERE state <> 'deleted'`);
    await queryRunner.query(`DELETE FROM "typeorm_metadata" WHERE "type" = 'GENERATED_COLUMN' AND "table" = 'instances' AND "name" IN ('live', 'unschedulable')`);
    await queryRunner.query(`ALTER TABLE "instances" DROP COLUMN "unschedulable"`);
    await queryRunner.query(`ALTER TABLE "instances" DROP COLUMN "live"`);
    await queryRunner.query(`CREATE INDEX "IDX_84ff7e0e9b8ca4e5d243715b59" ON "instances" ("state") `);
  }
}
