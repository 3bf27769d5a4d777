import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bicepFileNames, bicepParser, formatProblem, INFRA_DIR, parse, syntaxProblems } from './bicep';

describe('Bicep syntax (tree-sitter-bicep)', () => {
  const files = bicepFileNames();

  it('finds the entry template and its modules', () => {
    expect(files).toContain('main.bicep');
    expect(files.length).toBeGreaterThan(1);
  });

  it.each(files)('%s parses without errors or missing nodes', async (file) => {
    const parser = await bicepParser();
    const source = readFileSync(path.join(INFRA_DIR, file), 'utf8');
    expect(syntaxProblems(file, parse(parser, source)).map(formatProblem)).toEqual([]);
  });

  it.each([
    {
      what: 'a property without a value and an unclosed object',
      source: "param name string\nvar tags = {\n  owner: \n}\nresource x 'A/b@1' = {\n  name: name\n",
      problems: ['broken.bicep:3:9: missing identifier', 'broken.bicep:6:13: missing }'],
    },
    {
      what: 'a dangling operator',
      source: "var a = {\n  b: 1 +\n}\n",
      problems: ['broken.bicep:2:8: unexpected "+"'],
    },
    {
      // The grammar predates the spread operator: the templates must not use it.
      what: 'the spread operator',
      source: 'var x = {\n  ...y\n}\n',
      problems: ['broken.bicep:2:3: unexpected "...y"'],
    },
  ])('reports the line and column of $what', async ({ source, problems }) => {
    const parser = await bicepParser();
    expect(syntaxProblems('broken.bicep', parse(parser, source)).map(formatProblem)).toEqual(problems);
  });
});
