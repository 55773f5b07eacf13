import { MigrationInterface, QueryRunner } from 'typeorm';

export class TokenBootstrapFlags1796433017885 implements MigrationInterface {
  name = 'TokenBootstrapFlags1796433017885';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"api_tokens\" ADD \"bootstrap\" boolean NOT NULL DEFAULT false");
    await queryRunner.query("ALTER TABLE \"enrollment_tokens\" ADD \"bootstrap\" boolean NOT NULL DEFAULT false");
    // Tokens made at start before this flag existed, so that a new configured value revokes them too.
    await queryRunner.query("UPDATE api_tokens SET bootstrap = true WHERE name = 'bootstrap-admin' AND created_by IS NULL");
    await queryRunner.query("UPDATE enrollment_tokens SET bootstrap = true WHERE name = 'bootstrap (HYPERPLANE_ENROLLMENT_TOKEN)' AND created_by IS NULL");
    // Every API process caches authentications; a change to api_tokens, from any process or from
    // psql, tells them all to forget (at commit, once per statement).
    await queryRunner.query(`CREATE FUNCTION hp_notify_tokens() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('hp_tokens', ''); RETURN NULL; END $$`);
    await queryRunner.query(`CREATE TRIGGER api_tokens_notify AFTER UPDATE OR DELETE ON api_tokens FOR EACH STATEMENT EXECUTE FUNCTION hp_notify_tokens()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER api_tokens_notify ON api_tokens`);
    await queryRunner.query(`DROP FUNCTION hp_notify_tokens()`);
    await queryRunner.query("ALTER TABLE \"enrollment_tokens\" DROP COLUMN \"bootstrap\"");
    await queryRunner.query("ALTER TABLE \"api_tokens\" DROP COLUMN \"bootstrap\"");
  }
}
