import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gridTemplate, INSTANCE_COLUMNS, parseHidden, visibleColumns } from './columns';

describe('instances table columns', () => {
  it('keeps only known, hideable columns from storage', () => {
    expect([...parseHidden('["host","project","name","nonsense",3]')]).toEqual(['host', 'project']);
    expect(parseHidden('not json').size).toBe(0);
    expect(parseHidden('{"host":true}').size).toBe(0);
    expect(parseHidden(null).size).toBe(0);
  });

  it('never hides the name or the selection, and builds the grid from what is shown', () => {
    const shown = visibleColumns(new Set(['host', 'project', 'name']));
    expect(shown.map((c) => c.id)).toEqual(['select', 'name', 'state', 'technology', 'template', 'resources', 'age', 'actions']);
    expect(gridTemplate(shown)).not.toContain('minmax(90px, 1fr)'); // the host's track is gone
    expect(gridTemplate(visibleColumns(new Set()))).toBe(INSTANCE_COLUMNS.map((c) => c.width).join(' '));
  });

  it("matches the stylesheet's tracks for the table with every column shown", () => {
    const css = readFileSync(join(__dirname, '..', 'styles.css'), 'utf8');
    expect(css).toContain(`grid-template-columns: ${gridTemplate(INSTANCE_COLUMNS)};`);
  });
});
