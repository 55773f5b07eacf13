import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Webhooks, their deliveries (an outbox filled with the events), and the audit trail. Audit
 * rows are append-only: a trigger refuses UPDATE and DELETE unless the transaction set
 * `hyperplane.audit_prune` (only the retention pruner does, with SET LOCAL).
 */

export class WebhooksAudit1796434990923 implements MigrationInterface {
  name = 'WebhooksAudit1796434990923';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"webhooks\" (\"id\" uuid NOT NULL, \"url\" text NOT NULL, \"events\" text array NOT NULL, \"project_id\" uuid, \"secret\" text NOT NULL, \"enabled\" boolean NOT NULL DEFAULT true, \"disabled_reason\" text, \"created_by\" uuid, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"PK_9e8795cfc899ab7bdaa831e8527\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"webhooks_project\" ON \"webhooks\" (\"project_id\") ");
    await queryRunner.query("CREATE TABLE \"webhook_deliveries\" (\"id\" uuid NOT NULL, \"webhook_id\" uuid NOT NULL, \"event_id\" bigint, \"type\" character varying(64) NOT NULL, \"payload\" jsonb NOT NULL, \"status\" character varying(16) NOT NULL DEFAULT 'pending', \"queued\" boolean NOT NULL DEFAULT false, \"attempts\" jsonb NOT NULL DEFAULT '[]', \"next_attempt_at\" TIMESTAMP WITH TIME ZONE, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"finished_at\" TIMESTAMP WITH TIME ZONE, CONSTRAINT \"PK_535dd409947fb6d8fc6dfc0112a\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"webhook_deliveries_due\" ON \"webhook_deliveries\" (\"next_attempt_at\") WHERE status = 'pending'");
    await queryRunner.query("CREATE INDEX \"webhook_deliveries_unsent\" ON \"webhook_deliveries\" (\"created_at\") WHERE queued = false");
    await queryRunner.query("CREATE INDEX \"webhook_deliveries_webhook\" ON \"webhook_deliveries\" (\"webhook_id\", \"created_at\") ");
    await queryRunner.query("CREATE TABLE \"audit_entries\" (\"id\" BIGSERIAL NOT NULL, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"token_id\" uuid, \"token_name\" character varying(128), \"role\" character varying(16), \"project_id\" uuid, \"action\" character varying(128) NOT NULL, \"target\" text NOT NULL, \"source\" character varying(64) NOT NULL, \"request_id\" character varying(128), \"status\" integer NOT NULL, CONSTRAINT \"PK_6b1623bcad4d04530b76548d619\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"audit_entries_project\" ON \"audit_entries\" (\"project_id\", \"id\") ");
    await queryRunner.query(`CREATE INDEX "audit_entries_created" ON "audit_entries" USING brin ("created_at")`);
    await queryRunner.query(`CREATE FUNCTION hp_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' AND current_setting('hyperplane.audit_prune', true) = 'on' THEN RETURN OLD; END IF;
        RAISE EXCEPTION 'audit entries are append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await queryRunner.query(`CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON "audit_entries" FOR EACH ROW EXECUTE FUNCTION hp_audit_append_only()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER audit_entries_append_only ON "audit_entries"`);
    await queryRunner.query(`DROP FUNCTION hp_audit_append_only()`);
    await queryRunner.query(`DROP INDEX "public"."audit_entries_created"`);
    await queryRunner.query("DROP INDEX \"public\".\"audit_entries_project\"");
    await queryRunner.query("DROP TABLE \"audit_entries\"");
    await queryRunner.query("DROP INDEX \"public\".\"webhook_deliveries_webhook\"");
    await queryRunner.query("DROP INDEX \"public\".\"webhook_deliveries_unsent\"");
    await queryRunner.query("DROP INDEX \"public\".\"webhook_deliveries_due\"");
    await queryRunner.query("DROP TABLE \"webhook_deliveries\"");
    await queryRunner.query("DROP INDEX \"public\".\"webhooks_project\"");
    await queryRunner.query("DROP TABLE \"webhooks\"");
  }
}
