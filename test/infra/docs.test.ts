import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appSettings, compiledTemplate, REPO_DIR } from './compiled';

/**
 * docs/deployment.md lists the compiled template's parameters and outputs: exactly those, so a
 * parameter or output added, renamed or removed in Bicep without the guide fails here.
 */
const compiled = await compiledTemplate();
const guide = readFileSync(path.join(REPO_DIR, 'docs', 'deployment.md'), 'utf8');

/** The names in backticks in the first column of the table under a `### heading`. */
function firstColumnNames(heading: string): string[] {
  const start = guide.indexOf(`\n### ${heading}\n`);
  if (start < 0) throw new Error(`docs/deployment.md has no "### ${heading}" section`);
  const section = guide.slice(start + heading.length + 6).split(/\n#{2,3} /)[0]!;
  const rows = section.split('\n').filter((line) => line.startsWith('|') && !/^\|[-| ]+\|$/.test(line));
  return rows.slice(1).flatMap((row) => [...row.split('|')[1]!.matchAll(/`([^`]+)`/g)].map((match) => match[1]!));
}

describe.skipIf(!compiled)('docs/deployment.md', () => {
  it("lists exactly the compiled template's parameters", () => {
    expect(firstColumnNames('Parameters').sort()).toEqual(Object.keys(compiled!.json.parameters ?? {}).sort());
  });

  it("lists exactly the compiled template's outputs", () => {
    expect(firstColumnNames('Outputs').sort()).toEqual(Object.keys(compiled!.json.outputs ?? {}).sort());
  });

  it('lists every app setting the template sets', () => {
    const listed = firstColumnNames('App settings');
    expect(Object.keys(appSettings(compiled!.main).body).filter((name) => !listed.includes(name))).toEqual([]);
  });
});
