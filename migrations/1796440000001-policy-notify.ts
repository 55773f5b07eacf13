import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A change of a project's placement policy NOTIFYs hp_policy (whoever makes it: the API, another
 * process, psql), so controllers drop their cached policies at once: the next placement, and a
 * preview, use the new one. Notifications reach a listener in commit order, so a create
 * committed after the change is decided under it.
 */
export class PolicyNotify1796440000001 implements MigrationInterface {
  name = 'PolicyNotify1796440000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE FUNCTION hp_notify_policy() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('hp_policy', ''); RETURN NULL; END $$`);
    await queryRunner.query(`CREATE TRIGGER projects_policy_notify AFTER UPDATE OF policy ON projects FOR EACH STATEMENT EXECUTE FUNCTION hp_notify_policy()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TRIGGER projects_policy_notify ON projects');
    await queryRunner.query('DROP FUNCTION hp_notify_policy()');
  }
}
