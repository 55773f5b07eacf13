import { MigrationInterface, QueryRunner } from 'typeorm';

// Generated, then written by hand to keep the data: each distinct host credential becomes an
// agent (its hosts shared it), and hosts that shared a name get their id's start appended so
// that names can be unique. Agents enrolled before this have no Redis user until they rotate.
export class AgentsAndUniqueHostNames1796436436623 implements MigrationInterface {
  name = 'AgentsAndUniqueHostNames1796436436623';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"agents\" (\"id\" uuid NOT NULL, \"credential_hash\" character(64) NOT NULL, \"redis_user\" character varying(128), \"redis_password_hash\" character(64), \"enrollment_token_id\" uuid, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"rotated_at\" TIMESTAMP WITH TIME ZONE, CONSTRAINT \"PK_9c653f28ae19c5884d5baf6a1d9\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_bdeda5cd444aadacd1323ea066\" ON \"agents\" (\"credential_hash\") ");
    await queryRunner.query(
      "INSERT INTO \"agents\" (\"id\", \"credential_hash\", \"enrollment_token_id\", \"created_at\") SELECT gen_random_uuid(), \"credential_hash\", (array_agg(\"enrollment_token_id\"))[1], min(\"created_at\") FROM \"hosts\" GROUP BY \"credential_hash\"",
    );
    await queryRunner.query("ALTER TABLE \"hosts\" ADD \"agent_id\" uuid");
    await queryRunner.query("UPDATE \"hosts\" h SET \"agent_id\" = a.\"id\" FROM \"agents\" a WHERE a.\"credential_hash\" = h.\"credential_hash\"");
    await queryRunner.query("ALTER TABLE \"hosts\" ALTER COLUMN \"agent_id\" SET NOT NULL");
    await queryRunner.query("ALTER TABLE \"hosts\" DROP COLUMN \"credential_hash\"");
    await queryRunner.query(
      "UPDATE \"hosts\" SET \"name\" = left(\"name\", 244) || '-' || left(\"id\"::text, 8) WHERE \"id\" IN (SELECT \"id\" FROM (SELECT \"id\", row_number() OVER (PARTITION BY \"name\" ORDER BY \"created_at\", \"id\") AS n FROM \"hosts\") t WHERE n > 1)",
    );
    await queryRunner.query("DROP INDEX \"public\".\"IDX_d6d891591add4f442af21db7fb\"");
    await queryRunner.query("CREATE UNIQUE INDEX \"hosts_name_unique\" ON \"hosts\" (\"name\") ");
    await queryRunner.query("CREATE INDEX \"IDX_bd3d6846f15bec24d67e346d66\" ON \"hosts\" (\"agent_id\") ");
    await queryRunner.query("ALTER TABLE \"hosts\" ADD CONSTRAINT \"FK_bd3d6846f15bec24d67e346d66b\" FOREIGN KEY (\"agent_id\") REFERENCES \"agents\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"hosts\" DROP CONSTRAINT \"FK_bd3d6846f15bec24d67e346d66b\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_bd3d6846f15bec24d67e346d66\"");
    await queryRunner.query("DROP INDEX \"public\".\"hosts_name_unique\"");
    await queryRunner.query("CREATE INDEX \"IDX_d6d891591add4f442af21db7fb\" ON \"hosts\" (\"name\") ");
    await queryRunner.query("ALTER TABLE \"hosts\" ADD \"credential_hash\" character(64)");
    await queryRunner.query("UPDATE \"hosts\" h SET \"credential_hash\" = a.\"credential_hash\" FROM \"agents\" a WHERE a.\"id\" = h.\"agent_id\"");
    await queryRunner.query("ALTER TABLE \"hosts\" ALTER COLUMN \"credential_hash\" SET NOT NULL");
    await queryRunner.query("ALTER TABLE \"hosts\" DROP COLUMN \"agent_id\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_bdeda5cd444aadacd1323ea066\"");
    await queryRunner.query("DROP TABLE \"agents\"");
  }
}
