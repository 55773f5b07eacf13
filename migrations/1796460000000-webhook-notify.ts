import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A webhook delivery waiting to be queued (a new one, or one sent again) NOTIFYs hp_webhooks, so
 * the controllers' webhook relay wakes only when there is a delivery, rather than at every commit
 * that wrote events (most of which match no webhook) to look for one. A row trigger fires only
 * for rows that exist, and PostgreSQL sends equal notifications of one transaction once.
 */
export class WebhookNotify1796460000000 implements MigrationInterface {
  name = 'WebhookNotify1796460000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE FUNCTION hp_notify_webhooks() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('hp_webhooks', ''); RETURN NULL; END $$`);
    await queryRunner.query(
      `CREATE TRIGGER webhook_deliveries_notify AFTER INSERT OR UPDATE OF queued ON webhook_deliveries FOR EACH ROW WHEN (NOT NEW.queued) EXECUTE FUNCTION hp_notify_webhooks()`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TRIGGER webhook_deliveries_notify ON webhook_deliveries');
    await queryRunner.query('DROP FUNCTION hp_notify_webhooks()');
  }
}
