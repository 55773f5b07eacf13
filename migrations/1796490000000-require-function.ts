import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * hp_require(ok, code, message): raises `message` with SQLSTATE `code` unless `ok`. A guarded
 * statement sent with its transaction's COMMIT (Database's withCommit) uses it to refuse: a
 * statement that merely changed no row would let the COMMIT go through.
 */
export class RequireFunction1796490000000 implements MigrationInterface {
  name = 'RequireFunction1796490000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE FUNCTION hp_require(ok boolean, code text, message text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF ok IS NOT TRUE THEN
    RAISE EXCEPTION USING ERRCODE = code, MESSAGE = message;
  END IF;
  RETURN true;
END $$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP FUNCTION hp_require(boolean, text, text)');
  }
}
