import { MigrationInterface, QueryRunner } from 'typeorm';

export class PlacementGroups1795659365030 implements MigrationInterface {
  name = 'PlacementGroups1795659365030';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"public\".\"IDX_1ecce8c8793180ed9e9a266cc7\"");
    await queryRunner.query("CREATE TABLE \"placement_groups\" (\"id\" uuid NOT NULL, \"project_id\" uuid NOT NULL, \"name\" character varying(63) NOT NULL, \"policy\" character varying(16) NOT NULL, \"strict\" boolean NOT NULL DEFAULT true, \"max_per_host\" integer, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"PK_51059ad5330cec7da22c92e186e\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE UNIQUE INDEX \"placement_groups_project_name\" ON \"placement_groups\" (\"project_id\", \"name\") ");
    await queryRunner.query("ALTER TABLE \"instances\" ADD \"placement_group_id\" uuid");
    await queryRunner.query("CREATE INDEX \"IDX_1c50c0a788a8419efc73e706ea\" ON \"instances\" (\"placement_group_id\") ");
    await queryRunner.query("CREATE INDEX \"operations_parent_status\" ON \"operations\" (\"parent_id\", \"status\") WHERE parent_id IS NOT NULL");
    await queryRunner.query("ALTER TABLE \"placement_groups\" ADD CONSTRAINT \"FK_01be0800294e1f47611a553a337\" FOREIGN KEY (\"project_id\") REFERENCES \"projects\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"instances\" ADD CONSTRAINT \"FK_1c50c0a788a8419efc73e706ea8\" FOREIGN KEY (\"placement_group_id\") REFERENCES \"placement_groups\"(\"id\") ON DELETE SET NULL ON UPDATE NO ACTION");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"instances\" DROP CONSTRAINT \"FK_1c50c0a788a8419efc73e706ea8\"");
    await queryRunner.query("ALTER TABLE \"placement_groups\" DROP CONSTRAINT \"FK_01be0800294e1f47611a553a337\"");
    await queryRunner.query("DROP INDEX \"public\".\"operations_parent_status\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_1c50c0a788a8419efc73e706ea\"");
    await queryRunner.query("ALTER TABLE \"instances\" DROP COLUMN \"placement_group_id\"");
    await queryRunner.query("DROP INDEX \"public\".\"placement_groups_project_name\"");
    await queryRunner.query("DROP TABLE \"placement_groups\"");
    await queryRunner.query("CREATE INDEX \"IDX_1ecce8c8793180ed9e9a266cc7\" ON \"operations\" (\"parent_id\") ");
  }
}
