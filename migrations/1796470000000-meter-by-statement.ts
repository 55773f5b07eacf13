import { MigrationInterface, QueryRunner } from 'typeorm';

const METERED = `('running', 'stopped', 'suspended')`;

/**
 * Usage metering per statement rather than per row: the same intervals (a change of state or
 * size closes the instance's open interval and, in a metered state, opens the next at the same
 * instant), written by one UPDATE and one INSERT over the statement's transition tables. A batch
 * that settles 500 instances at once ran the row trigger's function 500 times, two statements
 * each: the largest part of that UPDATE's time at a million instances.
 */
export class MeterByStatement1796470000000 implements MigrationInterface {
  name = 'MeterByStatement1796470000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TRIGGER instances_meter_update ON instances');
    await queryRunner.query('DROP TRIGGER instances_meter_insert ON instances');
    // Rows whose change is metered: as the row trigger's WHEN said.
    await queryRunner.query(`CREATE FUNCTION hp_instances_meter_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE at timestamptz := hp_clock();
BEGIN
  IF TG_OP = 'UPDATE' THEN
    -- Through the open intervals' index (an array of ids): a join would read every interval,
    -- the transition tables having no statistics.
    UPDATE usage_intervals u SET ended_at = GREATEST(at, u.started_at)
     WHERE u.ended_at IS NULL AND u.instance_id = ANY (ARRAY(
       SELECT o.id FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE (o.state IN ${METERED} OR n.state IN ${METERED})
          AND (o.state IS DISTINCT FROM n.state OR o.vcpus <> n.vcpus OR o.memory_mib <> n.memory_mib OR o.disk_gib <> n.disk_gib OR o.technology IS DISTINCT FROM n.technology)));
    INSERT INTO usage_intervals (instance_id, project_id, technology, state, vcpus, memory_mib, disk_gib, started_at)
    SELECT n.id, n.project_id, COALESCE(n.technology, n.requested_technology), n.state, n.vcpus, n.memory_mib, n.disk_gib, at
      FROM old_rows o JOIN new_rows n ON n.id = o.id
     WHERE n.state IN ${METERED}
       AND (o.state IS DISTINCT FROM n.state OR o.vcpus <> n.vcpus OR o.memory_mib <> n.memory_mib OR o.disk_gib <> n.disk_gib OR o.technology IS DISTINCT FROM n.technology);
  ELSE
    INSERT INTO usage_intervals (instance_id, project_id, technology, state, vcpus, memory_mib, disk_gib, started_at)
    SELECT n.id, n.project_id, COALESCE(n.technology, n.requested_technology), n.state, n.vcpus, n.memory_mib, n.disk_gib, at
      FROM new_rows n WHERE n.state IN ${METERED};
  END IF;
  RETURN NULL;
END $$`);
    await queryRunner.query(`CREATE TRIGGER instances_meter_insert AFTER INSERT ON instances REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hp_instances_meter_rows()`);
    await queryRunner.query(
      `CREATE TRIGGER instances_meter_update AFTER UPDATE ON instances REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hp_instances_meter_rows()`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TRIGGER instances_meter_update ON instances');
    await queryRunner.query('DROP TRIGGER instances_meter_insert ON instances');
    await queryRunner.query('DROP FUNCTION hp_instances_meter_rows()');
    await queryRunner.query(`CREATE TRIGGER instances_meter_insert AFTER INSERT ON instances FOR EACH ROW
      WHEN (NEW.state IN ${METERED}) EXECUTE FUNCTION hp_instances_meter()`);
    await queryRunner.query(`CREATE TRIGGER instances_meter_update AFTER UPDATE OF state, vcpus, memory_mib, disk_gib, technology ON instances FOR EACH ROW
      WHEN ((OLD.state IN ${METERED} OR NEW.state IN ${METERED})
        AND (OLD.state IS DISTINCT FROM NEW.state OR OLD.vcpus <> NEW.vcpus OR OLD.memory_mib <> NEW.memory_mib OR OLD.disk_gib <> NEW.disk_gib OR OLD.technology IS DISTINCT FROM NEW.technology))
      EXECUTE FUNCTION hp_instances_meter()`);
  }
}
