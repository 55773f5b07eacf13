import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * vCPUs are stored as whole milli-vCPUs (1 vCPU = 1000): a container may ask for 0.25 vCPU,
 * and the guarded capacity claim (`alloc + claim <= floor(cap × ratio) − reserved`) and every
 * sum stay exact integer arithmetic. The column names stay; the entities convert (MILLI in
 * libs/db) so TypeScript speaks decimal vCPUs. The quota check scales the `vcpus` limit (a
 * decimal in the project's JSON) to milli-vCPUs and reports vCPUs.
 */
export class MilliVcpus1796440000000 implements MigrationInterface {
  name = 'MilliVcpus1796440000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await scale(queryRunner, '* 1000');
    await queryRunner.query(quotaCheck(true));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(quotaCheck(false));
    // Fractions round up to a whole vCPU (never below one): the instance keeps running as asked.
    await scale(queryRunner, '/ 1000');
  }
}

async function scale(q: QueryRunner, op: string): Promise<void> {
  const to = (c: string): string => (op.startsWith('/') ? `CASE WHEN ${c} = 0 THEN 0 ELSE GREATEST(1, ceil(${c} / 1000.0))::int END` : `${c} ${op}`);
  // The accounting triggers would read a unit change as a resize: off while rescaling.
  await q.query('ALTER TABLE instances DISABLE TRIGGER instances_quota_grow');
  await q.query('ALTER TABLE instances DISABLE TRIGGER instances_meter_update');
  await q.query(`UPDATE instances SET vcpus = ${to('vcpus')}, claim_vcpus = ${to('claim_vcpus')}, reserve_vcpus = ${to('reserve_vcpus')}`);
  await q.query('ALTER TABLE instances ENABLE TRIGGER instances_quota_grow');
  await q.query('ALTER TABLE instances ENABLE TRIGGER instances_meter_update');
  await q.query(`UPDATE usage_intervals SET vcpus = ${to('vcpus')}`);
  // Allocations are the sum of the claims: recomputed (on the way down, from the rounded claims).
  await q.query(`UPDATE hosts SET cap_vcpus = ${to('cap_vcpus')},
     alloc_vcpus = COALESCE((SELECT sum(claim_vcpus) FROM instances i WHERE i.host_id = hosts.id), 0)`);
}

function quotaCheck(milli: boolean): string {
  // The limit of `vcpus` in milli-vCPUs (and usage reported back in vCPUs), or as before.
  const limit = milli ? `CASE WHEN res = 'vcpus' THEN round((lim->>res)::numeric * 1000) ELSE (lim->>res)::numeric END` : `(lim->>res)::bigint`;
  const shown = (v: string): string => (milli ? `CASE WHEN res = 'vcpus' THEN ${v} / 1000.0 ELSE ${v} END` : v);
  return `CREATE OR REPLACE FUNCTION hp_quota_check(p uuid, charged uuid[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  q jsonb; lim jsonb; scope text; res text; u record; used bigint; total bigint;${milli ? ' most numeric;' : ''}
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
      ${milli ? `most := ${limit};
      IF total > most THEN` : `IF total > ${limit} THEN`}
        RAISE EXCEPTION USING ERRCODE = 'HQ001', MESSAGE = format('quota exceeded: %s', res),
          DETAIL = jsonb_build_object('projectId', p, 'technology', scope, 'resource', res, 'limit', ${milli ? `(lim->res)` : `(lim->>res)::bigint`}, 'usage', ${shown('used')}, 'requested', ${shown('(total - used)')})::text;
      END IF;
    END LOOP;
  END LOOP;
END $$`;
}
