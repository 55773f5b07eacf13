import { MigrationInterface, QueryRunner } from 'typeorm';

export class InstanceSnapshots1795660403782 implements MigrationInterface {
  name = 'InstanceSnapshots1795660403782';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"instance_snapshots\" (\"id\" uuid NOT NULL, \"instance_id\" uuid NOT NULL, \"name\" character varying(63) NOT NULL, \"operation_id\" uuid, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"PK_7e1e6c61b87071342b0a8c5f09a\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE UNIQUE INDEX \"instance_snapshots_name\" ON \"instance_snapshots\" (\"instance_id\", \"name\") ");
    await queryRunner.query("ALTER TABLE \"instance_snapshots\" ADD CONSTRAINT \"FK_0146f5b34f8824b61966e5b1ee1\" FOREIGN KEY (\"instance_id\") REFERENCES \"instances\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"instance_snapshots\" DROP CONSTRAINT \"FK_0146f5b34f8824b61966e5b1ee1\"");
    await queryRunner.query("DROP INDEX \"public\".\"instance_snapshots_name\"");
    await queryRunner.query("DROP TABLE \"instance_snapshots\"");
  }
}
