import { MigrationInterface, QueryRunner } from 'typeorm';

export class QuotasUsageRates1796435081266 implements MigrationInterface {
  name = 'QuotasUsageRates1796435081266';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"usage_intervals\" (\"id\" BIGSERIAL NOT NULL, \"instance_id\" uuid NOT NULL, \"project_id\" uuid NOT NULL, \"technology\" character varying(16) NOT NULL, \"state\" character varying(16) NOT NULL, \"vcpus\" integer NOT NULL, \"memory_mib\" integer NOT NULL, \"disk_gib\" integer NOT NULL, \"started_at\" TIMESTAMP WITH TIME ZONE NOT NULL, \"ended_at\" TIMESTAMP WITH TIME ZONE, CONSTRAINT \"PK_e34120a2def2f6a9174be5db125\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"usage_intervals_project_started\" ON \"usage_intervals\" (\"project_id\", \"started_at\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"usage_intervals_open\" ON \"usage_intervals\" (\"instance_id\") WHERE ended_at IS NULL");
    await queryRunner.query("ALTER TABLE \"api_tokens\" ADD \"rate_limit_per_minute\" integer");
    await queryRunner.query("ALTER TABLE \"instances\" ADD \"reserve_vcpus\" integer NOT NULL DEFAULT '0'");
    await queryRunner.query("ALTER TABLE \"instances\" ADD \"reserve_memory_mib\" integer NOT NULL DEFAULT '0'");
    await queryRunner.query("ALTER TABLE \"instances\" ADD \"reserve_disk_gib\" integer NOT NULL DEFAULT '0'");

    // Quotas: after instances are added, or an instance's held size grows (a resize reserves
    // its new size at the request), the project's live instances must still fit its quota.
    // Checkers of one project queue on its row (FOR NO KEY UPDATE: not blocked by the FK
    // checks of inserts) and then count what is committed, so concurrent creates, in any
    // number of API processes, can never pass the limit together. Projects without a quota
    // take no lock. An unplaced `auto` instance counts against every per-technology limit.
    await queryRunner.query(`CREATE FUNCTION hp_quota_check(p uuid, charged uuid[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  q jsonb; lim jsonb; scope text; res text; u record; used bigint; total bigint;
BEGIN
  SELECT quota INTO q FROM projects WHERE id = p FOR NO KEY UPDATE;
  IF q IS NULL THEN RETURN; END IF;
  FOREACH scope IN ARRAY ARRAY['all', 'container', 'vm'] LOOP
    lim := CASE scope WHEN 'all' THEN q ELSE q->'perTechnology'->scope END;
    CONTINUE WHEN lim IS NULL OR jsonb_typeof(lim) <> 'object';
    SELECT count(*) AS t_instances, count(*) FILTER (WHERE NOT id = ANY(charged)) AS u_instances,
           COALESCE(sum(GREATEST(vcpus, reserve_vcpus)), 0) AS t_vcpus,
           COALESCE(sum(GREATEST(vcpus, reserve_vcpus)) FILTER (WHERE NOT id = ANY(charged)), 0) AS u_vcpus,
           COALESCE(sum(GREATEST(memory_mib, reserve_memory_mib)), 0) AS t_memory,
           COALESCE(sum(GREATEST(memory_mib, reserve_memory_mib)) FILTER (WHERE NOT id = ANY(charged)), 0) AS u_memory,
           COALESCE(sum(GREATEST(disk_gib, reserve_disk_gib)), 0) AS t_disk,
           COALESCE(sum(GREATEST(disk_gib, reserve_disk_gib)) FILTER (WHERE NOT id = ANY(charged)), 0) AS u_disk
      INTO u FROM instances
     WHERE project_id = p AND live AND (scope = 'all' OR COALESCE(technology, requested_technology) IN (scope, 'auto'));
    FOREACH res IN ARRAY ARRAY['instances', 'vcpus', 'memoryMiB', 'diskGiB'] LOOP
      CONTINUE WHEN jsonb_typeof(lim->res) IS DISTINCT FROM 'number';
      total := CASE res WHEN 'instances' THEN u.t_instances WHEN 'vcpus' THEN u.t_vcpus WHEN 'memoryMiB' THEN u.t_memory ELSE u.t_disk END;
      used := CASE res WHEN 'instances' THEN u.u_instances WHEN 'vcpus' THEN u.u_vcpus WHEN 'memoryMiB' THEN u.u_memory ELSE u.u_disk END;
      IF total > (lim->>res)::bigint THEN
        RAISE EXCEPTION USING ERRCODE = 'HQ001', MESSAGE = format('quota exceeded: %s', res),
          DETAIL = jsonb_build_object('projectId', p, 'technology', scope, 'resource', res, 'limit', (lim->>res)::bigint, 'usage', used, 'requested', total - used)::text;
      END IF;
    END LOOP;
  END LOOP;
END $$`);
    await queryRunner.query(`CREATE FUNCTION hp_instances_quota_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  FOR r IN SELECT n.project_id, array_agg(n.id) AS ids FROM new_instances n JOIN projects p ON p.id = n.project_id
            WHERE p.quota IS NOT NULL AND n.state <> 'deleted' GROUP BY n.project_id ORDER BY n.project_id LOOP
    PERFORM hp_quota_check(r.project_id, r.ids);
  END LOOP;
  RETURN NULL;
END $$`);
    await queryRunner.query(`CREATE TRIGGER instances_quota_insert AFTER INSERT ON instances REFERENCING NEW TABLE AS new_instances FOR EACH STATEMENT EXECUTE FUNCTION hp_instances_quota_insert()`);
    await queryRunner.query(`CREATE FUNCTION hp_instances_quota_grow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM hp_quota_check(NEW.project_id, ARRAY[NEW.id]);
  RETURN NULL;
END $$`);
    await queryRunner.query(`CREATE TRIGGER instances_quota_grow AFTER UPDATE OF vcpus, memory_mib, disk_gib, reserve_vcpus, reserve_memory_mib, reserve_disk_gib ON instances FOR EACH ROW
      WHEN (NEW.state <> 'deleted' AND (GREATEST(NEW.vcpus, NEW.reserve_vcpus) > GREATEST(OLD.vcpus, OLD.reserve_vcpus)
        OR GREATEST(NEW.memory_mib, NEW.reserve_memory_mib) > GREATEST(OLD.memory_mib, OLD.reserve_memory_mib)
        OR GREATEST(NEW.disk_gib, NEW.reserve_disk_gib) > GREATEST(OLD.disk_gib, OLD.reserve_disk_gib)))
      EXECUTE FUNCTION hp_instances_quota_grow()`);
    // A resize's reserve ends with its operation, however it ends (done, failed, cancelled):
    // by then a successful one has set the new size.
    await queryRunner.query(`CREATE FUNCTION hp_resize_unreserve() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE instances SET reserve_vcpus = 0, reserve_memory_mib = 0, reserve_disk_gib = 0
   WHERE id = NEW.instance_id AND (reserve_vcpus > 0 OR reserve_memory_mib > 0 OR reserve_disk_gib > 0);
  RETURN NULL;
END $$`);
    await queryRunner.query(`CREATE TRIGGER operations_resize_unreserve AFTER UPDATE OF status ON operations FOR EACH ROW
      WHEN (NEW.kind = 'resize' AND NEW.status IN ('succeeded', 'failed', 'cancelled') AND OLD.status IS DISTINCT FROM NEW.status)
      EXECUTE FUNCTION hp_resize_unreserve()`);

    // Usage metering: every change of state or size closes the instance's open interval and,
    // in a metered state, opens the next at the same instant. A trigger, so no code path can
    // forget it; it reads only the changed row (no index on state: HOT updates stay HOT).
    // hp_clock() is the transaction's time unless a test sets hyperplane.clock (SET LOCAL).
    await queryRunner.query(`CREATE FUNCTION hp_clock() RETURNS timestamptz LANGUAGE sql STABLE AS $$ SELECT COALESCE(NULLIF(current_setting('hyperplane.clock', true), '')::timestamptz, now()) $$`);
    await queryRunner.query(`CREATE FUNCTION hp_instances_meter() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE at timestamptz := hp_clock();
BEGIN
  IF TG_OP = 'UPDATE' THEN
    UPDATE usage_intervals SET ended_at = GREATEST(at, started_at) WHERE instance_id = OLD.id AND ended_at IS NULL;
  END IF;
  IF NEW.state IN ('running', 'stopped', 'suspended') THEN
    INSERT INTO usage_intervals (instance_id, project_id, technology, state, vcpus, memory_mib, disk_gib, started_at)
    VALUES (NEW.id, NEW.project_id, COALESCE(NEW.technology, NEW.requested_technology), NEW.state, NEW.vcpus, NEW.memory_mib, NEW.disk_gib, at);
  END IF;
  RETURN NULL;
END $$`);
    await queryRunner.query(`CREATE TRIGGER instances_meter_insert AFTER INSERT ON instances FOR EACH ROW
      WHEN (NEW.state IN ('running', 'stopped', 'suspended')) EXECUTE FUNCTION hp_instances_meter()`);
    await queryRunner.query(`CREATE TRIGGER instances_meter_update AFTER UPDATE OF state, vcpus, memory_mib, disk_gib, technology ON instances FOR EACH ROW
      WHEN ((OLD.state IN ('running', 'stopped', 'suspended') OR NEW.state IN ('running', 'stopped', 'suspended'))
        AND (OLD.state IS DISTINCT FROM NEW.state OR OLD.vcpus <> NEW.vcpus OR OLD.memory_mib <> NEW.memory_mib OR OLD.disk_gib <> NEW.disk_gib OR OLD.technology IS DISTINCT FROM NEW.technology))
      EXECUTE FUNCTION hp_instances_meter()`);
    // Instances already in a metered state are metered from now on (their past is unknown).
    await queryRunner.query(`INSERT INTO usage_intervals (instance_id, project_id, technology, state, vcpus, memory_mib, disk_gib, started_at)
      SELECT id, project_id, COALESCE(technology, requested_technology), state, vcpus, memory_mib, disk_gib, now() FROM instances WHERE state IN ('running', 'stopped', 'suspended')`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TRIGGER instances_meter_update ON instances');
    await queryRunner.query('DROP TRIGGER instances_meter_insert ON instances');
    await queryRunner.query('DROP FUNCTION hp_instances_meter()');
    await queryRunner.query('DROP FUNCTION hp_clock()');
    await queryRunner.query('DROP TRIGGER operations_resize_unreserve ON operations');
    await queryRunner.query('DROP FUNCTION hp_resize_unreserve()');
    await queryRunner.query('DROP TRIGGER instances_quota_grow ON instances');
    await queryRunner.query('DROP FUNCTION hp_instances_quota_grow()');
    await queryRunner.query('DROP TRIGGER instances_quota_insert ON instances');
    await queryRunner.query('DROP FUNCTION hp_instances_quota_insert()');
    await queryRunner.query('DROP FUNCTION hp_quota_check(uuid, uuid[])');
    await queryRunner.query("ALTER TABLE \"instances\" DROP COLUMN \"reserve_disk_gib\"");
    await queryRunner.query("ALTER TABLE \"instances\" DROP COLUMN \"reserve_memory_mib\"");
    await queryRunner.query("ALTER TABLE \"instances\" DROP COLUMN \"reserve_vcpus\"");
    await queryRunner.query("ALTER TABLE \"api_tokens\" DROP COLUMN \"rate_limit_per_minute\"");
    await queryRunner.query("DROP INDEX \"public\".\"usage_intervals_open\"");
    await queryRunner.query("DROP INDEX \"public\".\"usage_intervals_project_started\"");
    await queryRunner.query("DROP TABLE \"usage_intervals\"");
  }
}
