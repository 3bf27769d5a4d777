import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..', '..', '..');

function sourceFiles(directory: string): string[] {
  return readdirSync(path.join(ROOT, directory), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => path.relative(ROOT, path.join(entry.parentPath, entry.name)));
}

const isOdata = (node: ts.Expression | undefined): boolean =>
  node !== undefined && ts.isTaggedTemplateExpression(node) && ts.isIdentifier(node.tag) && node.tag.text === 'odata';

/** Every Table query filter (`queryOptions: { filter }`) of a file that is not built with the `odata` template. */
function unsafeFilters(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(path.join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest, true);
  const variables = new Map<string, ts.Expression | undefined>();
  const filters: { at: ts.Node; value: ts.Expression | undefined; name?: string }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name)) variables.set(node.name.text, node.initializer);
    if (ts.isPropertyAssignment(node) && ts.isIdentifier(node.name) && node.name.text === 'queryOptions' && ts.isObjectLiteralExpression(node.initializer)) {
      for (const property of node.initializer.properties) {
        if (property.name === undefined || !ts.isIdentifier(property.name) || property.name.text !== 'filter') continue;
        if (ts.isShorthandPropertyAssignment(property)) filters.push({ at: property, value: undefined, name: 'filter' });
        else if (ts.isPropertyAssignment(property)) {
          const value = property.initializer;
          filters.push(ts.isIdentifier(value) ? { at: property, value: undefined, name: value.text } : { at: property, value });
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return filters
    .filter((filter) => !isOdata(filter.name === undefined ? filter.value : variables.get(filter.name)))
    .map((filter) => `${file}:${source.getLineAndCharacterOfPosition(filter.at.getStart()).line + 1}`);
}

describe('finding 11: Table filters are built only with the odata template', () => {
  it('finds no query filter in src/ or functions/ built by string interpolation', () => {
    const files = [...sourceFiles('src'), ...sourceFiles('functions')];
    expect(files.length).toBeGreaterThan(50);
    expect(files.flatMap(unsafeFilters)).toEqual([]);
  });
});
