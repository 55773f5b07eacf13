/* eslint-disable no-console */
// Writes a migration for the difference between the entities and the database at
// DATABASE_URL (run the existing migrations first). Usage:
//   DATABASE_URL=postgres://… npm run migration:generate -- AddPlacementGroups
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDataSource, pendingSchemaChanges, runMigrations } from '../data-source';

async function main(): Promise<void> {
  const name = process.argv[2];
  const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/hyperplane';
  if (!name || !/^[A-Z][A-Za-z0-9]+$/.test(name)) throw new Error('give the migration a PascalCase name');
  const ds = createDataSource({ url, poolSize: 2 });
  await ds.initialize();
  try {
    await runMigrations(ds);
    const { up, down } = await pendingSchemaChanges(ds);
    if (up.length === 0) {
      console.log('no changes: the schema matches the entities');
      return;
    }
    const stamp = Date.now();
    const cls = `${name}${stamp}`;
    const q = (s: string): string => `    await queryRunner.query(${JSON.stringify(s)});`;
    const body = `import { MigrationInterface, QueryRunner } from 'typeorm';

export class ${cls} implements MigrationInterface {
  name = '${cls}';

  async up(queryRunner: QueryRunner): Promise<void> {
${up.map(q).join('\n')}
  }

  async down(queryRunner: QueryRunner): Promise<void> {
${[...down].reverse().map(q).join('\n')}
  }
}
`;
    const file = join(process.cwd(), 'migrations', `${stamp}-${name.replace(/[A-Z]/g, (c, i: number) => (i ? '-' : '') + c.toLowerCase())}.ts`);
    writeFileSync(file, body);
    console.log(`wrote ${file}; add ${cls} to migrations/index.ts`);
  } finally {
    await ds.destroy();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
