import { MigrationInterface, QueryRunner } from 'typeorm';

export class Init1795654694139 implements MigrationInterface {
  name = 'Init1795654694139';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"projects\" (\"id\" uuid NOT NULL, \"name\" character varying(63) NOT NULL, \"description\" text NOT NULL DEFAULT '', \"policy\" jsonb, \"quota\" jsonb, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"UQ_2187088ab5ef2a918473cb99007\" UNIQUE (\"name\"), CONSTRAINT \"PK_6271df0a7aed1d6c0691ce6ac50\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE TABLE \"api_tokens\" (\"id\" uuid NOT NULL, \"name\" character varying(100) NOT NULL, \"secret_hash\" character(64) NOT NULL, \"prefix\" character varying(16) NOT NULL, \"role\" character varying(16) NOT NULL, \"project_id\" uuid, \"created_by\" uuid, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"expires_at\" TIMESTAMP WITH TIME ZONE, \"revoked_at\" TIMESTAMP WITH TIME ZONE, CONSTRAINT \"PK_c587455266b5fa8dace7194caac\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_7e7249acb8127967fc6b8907d6\" ON \"api_tokens\" (\"secret_hash\") ");
    await queryRunner.query("CREATE TABLE \"enrollment_tokens\" (\"id\" uuid NOT NULL, \"name\" character varying(100) NOT NULL, \"secret_hash\" character(64) NOT NULL, \"max_hosts\" integer, \"hosts_enrolled\" integer NOT NULL DEFAULT '0', \"created_by\" uuid, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"expires_at\" TIMESTAMP WITH TIME ZONE, \"revoked_at\" TIMESTAMP WITH TIME ZONE, CONSTRAINT \"PK_d9b043a74d8643fde7e6b948591\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_a6c319822ac865295f277b1d0e\" ON \"enrollment_tokens\" (\"secret_hash\") ");
    await queryRunner.query("CREATE TABLE \"events\" (\"id\" BIGSERIAL NOT NULL, \"type\" character varying(64) NOT NULL, \"subject_type\" character varying(16) NOT NULL, \"subject_id\" uuid NOT NULL, \"project_id\" uuid, \"data\" jsonb NOT NULL DEFAULT '{}', \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"PK_40731c7151fe4be3116e45ddf73\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"events_created\" ON \"events\" (\"created_at\") ");
    await queryRunner.query("CREATE TABLE \"hosts\" (\"id\" uuid NOT NULL, \"name\" character varying(253) NOT NULL, \"status\" character varying(16) NOT NULL, \"status_reason\" text, \"os\" character varying(16) NOT NULL, \"os_version\" character varying(100) NOT NULL, \"kernel\" character varying(100) NOT NULL, \"arch\" character varying(16) NOT NULL, \"simulated\" boolean NOT NULL DEFAULT false, \"labels\" jsonb NOT NULL DEFAULT '{}', \"zone\" character varying(63), \"cap_vcpus\" integer NOT NULL, \"cap_memory_mib\" integer NOT NULL, \"cap_disk_gib\" integer NOT NULL, \"cap_instances\" integer NOT NULL DEFAULT '0', \"alloc_vcpus\" integer NOT NULL DEFAULT '0', \"alloc_memory_mib\" integer NOT NULL DEFAULT '0', \"alloc_disk_gib\" integer NOT NULL DEFAULT '0', \"alloc_instances\" integer NOT NULL DEFAULT '0', \"drivers\" jsonb NOT NULL DEFAULT '[]', \"templates\" jsonb NOT NULL DEFAULT '[]', \"credential_hash\" character(64) NOT NULL, \"enrollment_token_id\" uuid, \"agent_version\" character varying(64), \"last_heartbeat_at\" TIMESTAMP WITH TIME ZONE, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"updated_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"version\" integer NOT NULL DEFAULT '1', CONSTRAINT \"hosts_alloc_nonnegative\" CHECK (alloc_vcpus >= 0 AND alloc_memory_mib >= 0 AND alloc_disk_gib >= 0 AND alloc_instances >= 0), CONSTRAINT \"PK_c4bcf0826e0e2847faee4da1746\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"IDX_d6d891591add4f442af21db7fb\" ON \"hosts\" (\"name\") ");
    await queryRunner.query("CREATE INDEX \"IDX_ab3407e98511525b8c8a37a805\" ON \"hosts\" (\"status\") ");
    await queryRunner.query("CREATE TABLE \"instances\" (\"id\" uuid NOT NULL, \"project_id\" uuid NOT NULL, \"name\" character varying(63) NOT NULL, \"template\" character varying(63) NOT NULL, \"requested_technology\" character varying(16) NOT NULL, \"technology\" character varying(16), \"driver\" character varying(32), \"arch\" character varying(16), \"host_id\" uuid, \"state\" character varying(16) NOT NULL, \"desired_state\" character varying(16) NOT NULL, \"state_reason\" text, \"vcpus\" integer NOT NULL, \"memory_mib\" integer NOT NULL, \"disk_gib\" integer NOT NULL, \"claim_vcpus\" integer NOT NULL DEFAULT '0', \"claim_memory_mib\" integer NOT NULL DEFAULT '0', \"claim_disk_gib\" integer NOT NULL DEFAULT '0', \"limits\" jsonb, \"isolation\" jsonb, \"placement\" jsonb NOT NULL DEFAULT '{}', \"placement_explanation\" jsonb, \"created_by\" uuid, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"updated_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"deleted_at\" TIMESTAMP WITH TIME ZONE, \"version\" integer NOT NULL DEFAULT '1', CONSTRAINT \"instances_claim_nonnegative\" CHECK (claim_vcpus >= 0 AND claim_memory_mib >= 0 AND claim_disk_gib >= 0), CONSTRAINT \"PK_11862209053330b4765f7f54178\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"IDX_955ab4d1d154c7de52c852e47e\" ON \"instances\" (\"host_id\") ");
    await queryRunner.query("CREATE INDEX \"IDX_84ff7e0e9b8ca4e5d243715b59\" ON \"instances\" (\"state\") ");
    await queryRunner.query("CREATE INDEX \"instances_project_created\" ON \"instances\" (\"project_id\", \"created_at\", \"id\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"instances_project_name_live\" ON \"instances\" (\"project_id\", \"name\") WHERE state <> 'deleted'");
    await queryRunner.query("CREATE TABLE \"operations\" (\"id\" uuid NOT NULL, \"project_id\" uuid NOT NULL, \"instance_id\" uuid, \"parent_id\" uuid, \"kind\" character varying(16) NOT NULL, \"status\" character varying(16) NOT NULL, \"progress\" smallint NOT NULL DEFAULT '0', \"step\" character varying(100) NOT NULL DEFAULT 'queued', \"error\" jsonb, \"request\" jsonb NOT NULL DEFAULT '{}', \"result\" jsonb, \"idempotency_key\" character varying(255), \"idempotency_scope\" uuid, \"request_hash\" character(64), \"requested_by\" uuid, \"job_queue\" character varying(100), \"job_id\" character varying(200), \"job_data\" jsonb, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"started_at\" TIMESTAMP WITH TIME ZONE, \"finished_at\" TIMESTAMP WITH TIME ZONE, \"updated_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"version\" integer NOT NULL DEFAULT '1', CONSTRAINT \"operations_progress_range\" CHECK (progress BETWEEN 0 AND 100), CONSTRAINT \"PK_7b62d84d6f9912b975987165856\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"IDX_1ecce8c8793180ed9e9a266cc7\" ON \"operations\" (\"parent_id\") ");
    await queryRunner.query("CREATE INDEX \"operations_active\" ON \"operations\" (\"status\", \"updated_at\") WHERE status IN ('queued', 'running')");
    await queryRunner.query("CREATE INDEX \"operations_project_created\" ON \"operations\" (\"project_id\", \"created_at\", \"id\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"operations_idempotency\" ON \"operations\" (\"idempotency_scope\", \"idempotency_key\") WHERE idempotency_key IS NOT NULL");
    await queryRunner.query("CREATE UNIQUE INDEX \"operations_one_active_per_instance\" ON \"operations\" (\"instance_id\") WHERE status IN ('queued', 'running') AND instance_id IS NOT NULL");
    await queryRunner.query("CREATE TABLE \"outbox\" (\"id\" BIGSERIAL NOT NULL, \"queue\" character varying(100) NOT NULL, \"job_name\" character varying(100) NOT NULL, \"job_id\" character varying(200) NOT NULL, \"payload\" jsonb NOT NULL, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"PK_340ab539f309f03bdaa14aa7649\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE TABLE \"templates\" (\"name\" character varying(63) NOT NULL, \"description\" text NOT NULL DEFAULT '', \"os_family\" character varying(16) NOT NULL, \"distribution\" character varying(63) NOT NULL, \"version\" character varying(32) NOT NULL, \"archs\" jsonb NOT NULL, \"technologies\" jsonb NOT NULL, \"min_kernel\" character varying(32), \"windows_build\" character varying(16), \"drivers\" jsonb, \"image\" jsonb, \"builtin\" boolean NOT NULL DEFAULT false, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"PK_5624219dd33b4644599d4d4b231\" PRIMARY KEY (\"name\"))");
    await queryRunner.query("ALTER TABLE \"api_tokens\" ADD CONSTRAINT \"FK_d1b7ab7b66445341b53d294638e\" FOREIGN KEY (\"project_id\") REFERENCES \"projects\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"instances\" ADD CONSTRAINT \"FK_c75dbb4dfd4b594e99d29c0185a\" FOREIGN KEY (\"project_id\") REFERENCES \"projects\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"instances\" ADD CONSTRAINT \"FK_955ab4d1d154c7de52c852e47e8\" FOREIGN KEY (\"host_id\") REFERENCES \"hosts\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"operations\" ADD CONSTRAINT \"FK_bac8e0530ab08694ea62a5f48eb\" FOREIGN KEY (\"project_id\") REFERENCES \"projects\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"operations\" ADD CONSTRAINT \"FK_ea7fa379a9614333adeeecdefb7\" FOREIGN KEY (\"instance_id\") REFERENCES \"instances\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"operations\" ADD CONSTRAINT \"FK_1ecce8c8793180ed9e9a266cc79\" FOREIGN KEY (\"parent_id\") REFERENCES \"operations\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");

    // Hand-written: what entities cannot say.
    // NOTIFY at commit so the relay and the event streams wake at once (one per statement).
    await queryRunner.query(`CREATE FUNCTION hp_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('hp_outbox', ''); RETURN NULL; END $$`);
    await queryRunner.query(`CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION hp_notify_outbox()`);
    await queryRunner.query(`CREATE FUNCTION hp_notify_events() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('hp_events', ''); RETURN NULL; END $$`);
    await queryRunner.query(`CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION hp_notify_events()`);
    // The default project always exists.
    await queryRunner.query(`INSERT INTO projects (id, name, description) VALUES ('00000000-0000-4000-8000-000000000001', 'default', 'The project used when none is named')`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER events_notify ON events`);
    await queryRunner.query(`DROP FUNCTION hp_notify_events()`);
    await queryRunner.query(`DROP TRIGGER outbox_notify ON outbox`);
    await queryRunner.query(`DROP FUNCTION hp_notify_outbox()`);
    await queryRunner.query("ALTER TABLE \"operations\" DROP CONSTRAINT \"FK_1ecce8c8793180ed9e9a266cc79\"");
    await queryRunner.query("ALTER TABLE \"operations\" DROP CONSTRAINT \"FK_ea7fa379a9614333adeeecdefb7\"");
    await queryRunner.query("ALTER TABLE \"operations\" DROP CONSTRAINT \"FK_bac8e0530ab08694ea62a5f48eb\"");
    await queryRunner.query("ALTER TABLE \"instances\" DROP CONSTRAINT \"FK_955ab4d1d154c7de52c852e47e8\"");
    await queryRunner.query("ALTER TABLE \"instances\" DROP CONSTRAINT \"FK_c75dbb4dfd4b594e99d29c0185a\"");
    await queryRunner.query("ALTER TABLE \"api_tokens\" DROP CONSTRAINT \"FK_d1b7ab7b66445341b53d294638e\"");
    await queryRunner.query("DROP TABLE \"templates\"");
    await queryRunner.query("DROP TABLE \"outbox\"");
    await queryRunner.query("DROP INDEX \"public\".\"operations_one_active_per_instance\"");
    await queryRunner.query("DROP INDEX \"public\".\"operations_idempotency\"");
    await queryRunner.query("DROP INDEX \"public\".\"operations_project_created\"");
    await queryRunner.query("DROP INDEX \"public\".\"operations_active\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_1ecce8c8793180ed9e9a266cc7\"");
    await queryRunner.query("DROP TABLE \"operations\"");
    await queryRunner.query("DROP INDEX \"public\".\"instances_project_name_live\"");
    await queryRunner.query("DROP INDEX \"public\".\"instances_project_created\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_84ff7e0e9b8ca4e5d243715b59\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_955ab4d1d154c7de52c852e47e\"");
    await queryRunner.query("DROP TABLE \"instances\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_ab3407e98511525b8c8a37a805\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_d6d891591add4f442af21db7fb\"");
    await queryRunner.query("DROP TABLE \"hosts\"");
    await queryRunner.query("DROP INDEX \"public\".\"events_created\"");
    await queryRunner.query("DROP TABLE \"events\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_a6c319822ac865295f277b1d0e\"");
    await queryRunner.query("DROP TABLE \"enrollment_tokens\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_7e7249acb8127967fc6b8907d6\"");
    await queryRunner.query("DROP TABLE \"api_tokens\"");
    await queryRunner.query("DROP TABLE \"projects\"");
  }
}
