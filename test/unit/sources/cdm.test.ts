import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors';
import { readEntityDocument, readManifest, readModelJson } from '../../../src/sources/cdm';
import { csvFormatOf } from '../../../src/sources/csv-format';
import { parseJson } from '../../../src/sources/json';

function refusal(run: () => unknown): { code: string; message: string; details: Record<string, unknown> } {
  try {
    run();
  } catch (error) {
    if (error instanceof AppError) return { code: error.code, message: error.message, details: error.details as Record<string, unknown> };
    throw error;
  }
  throw new Error('expected an error');
}

const model = {
  name: 'CustomerInsights',
  version: '1.0',
  entities: [
    {
      $type: 'LocalEntity',
      name: 'HighValue',
      attributes: [{ name: 'CustomerId', dataType: 'string' }, { name: 'Email', dataType: 'string' }],
      partitions: [
        { name: 'p1', location: 'https://acct.dfs.core.windows.net/ci/x/HighValue_1.csv' },
        { name: 'p2', location: 'https://acct.dfs.core.windows.net/ci/x/HighValue_2.csv', fileFormatSettings: { $type: 'CsvFormatSettings', columnHeaders: true } },
      ],
      'pbi:mashup': { extension: true },
    },
    { $type: 'ReferenceEntity', name: 'Elsewhere', source: 'X', modelId: 'm' },
    { $type: 'LocalEntity', name: 'SchemaOnly', attributes: [{ name: 'Id' }] },
  ],
};

describe('model.json', () => {
  it('reads the local entities with data: attributes in order, partitions in order with their settings', () => {
    expect(readModelJson(JSON.stringify(model), 'x/model.json')).toEqual([
      {
        name: 'HighValue',
        attributes: ['CustomerId', 'Email'],
        partitions: [
          { location: 'https://acct.dfs.core.windows.net/ci/x/HighValue_1.csv', settings: undefined },
          { location: 'https://acct.dfs.core.windows.net/ci/x/HighValue_2.csv', settings: { $type: 'CsvFormatSettings', columnHeaders: true } },
        ],
      },
    ]);
  });

  it('reads a model.json that starts with a byte order mark', () => {
    expect(readModelJson(`\uFEFF${JSON.stringify(model)}`, 'x/model.json')).toHaveLength(1);
  });

  it('refuses malformed JSON naming the line and column of the mistake', () => {
    const text = '{\n  "name": "CI",\n  "entities": [\n    { "$type": "LocalEntity" "name": "A" }\n  ]\n}';
    const refused = refusal(() => readModelJson(text, 'x/model.json'));
    expect(refused.code).toBe('source_model_invalid');
    expect(refused.details).toEqual({ path: 'x/model.json', line: 4, column: 30 });
    expect(refused.message).toContain("expected ',' or '}' after the property value at line 4, column 30");
  });

  it.each([
    ['a truncated file', '{"entities": [', { line: 1, column: 15 }],
    ['a trailing comma', '{"entities": [1,]}', { line: 1, column: 17 }],
    ['a line break inside a string', '{"entities": [],\n "name": "a\nb"}', { line: 2, column: 12 }],
  ])('names where %s goes wrong', (_, text, where) => {
    const parsed = parseJson(text);
    expect(parsed.ok).toBe(false);
    expect(parsed).toMatchObject(where);
  });

  it('refuses a local entity without attributes, naming the property', () => {
    const broken = { entities: [{ $type: 'LocalEntity', name: 'A', attributes: [], partitions: [{ location: 'a.csv' }] }] };
    expect(refusal(() => readModelJson(JSON.stringify(broken), 'm.json')).message).toContain('entities.0.attributes: an entity needs at least one attribute');
  });
});

describe('CSV format settings', () => {
  it('uses the CDM defaults where a setting is absent: no header, comma', () => {
    expect(csvFormatOf(undefined, 'p')).toEqual({ headerRow: false, delimiter: ',' });
    expect(csvFormatOf({ columnHeaders: 'true', delimiter: ';', encoding: 'utf-8', csvStyle: 'CsvStyle.QuoteAfterDelimiter' }, 'p')).toEqual({ headerRow: true, delimiter: ';' });
  });

  it.each([
    [{ quoteStyle: 'QuoteStyle.None' }, 'quoteStyle'],
    [{ encoding: 'UTF-16' }, 'encoding'],
    [{ delimiter: '||' }, 'delimiter'],
    [{ $type: 'ParquetFormatSettings' }, '$type'],
  ])('refuses what the parser does not read: %j', (settings, named) => {
    const refused = refusal(() => csvFormatOf(settings, 'x/model.json'));
    expect(refused.code).toBe('source_format_unsupported');
    expect(refused.message).toContain(named);
  });
});

describe('manifests', () => {
  const manifest = {
    manifestName: 'default',
    entities: [
      {
        type: 'LocalEntity',
        entityName: 'Members',
        entityPath: 'Members.cdm.json/Members',
        dataPartitions: [
          { location: 'Members/part-1.csv', exhibitsTraits: [{ traitReference: 'is.partition.format.CSV', arguments: [{ name: 'columnHeaders', value: 'true' }, { name: 'delimiter', value: ',' }] }] },
          { location: 'Members/part-2.csv' },
        ],
      },
    ],
  };

  it('reads partitions and their CSV trait; the attributes come from the schema document', () => {
    expect(readManifest(JSON.stringify(manifest), 'f/default.manifest.cdm.json')).toEqual([
      {
        name: 'Members',
        documentLocation: 'Members.cdm.json/Members',
        partitions: [
          { location: 'Members/part-1.csv', settings: { columnHeaders: 'true', delimiter: ',' } },
          { location: 'Members/part-2.csv', settings: undefined },
        ],
      },
    ]);
    const document = { definitions: [{ entityName: 'Members', hasAttributes: [{ name: 'CustomerId' }, { attributeGroupReference: { attributeGroupName: 'g', members: [{ name: 'Email' }] } }] }] };
    expect(readEntityDocument(JSON.stringify(document), 'f/Members.cdm.json', 'Members')).toEqual(['CustomerId', 'Email']);
  });

  it('refuses partition patterns rather than reading nothing', () => {
    const patterns = { entities: [{ entityName: 'A', entityPath: 'A.cdm.json/A', dataPartitionPatterns: [{ rootLocation: 'A/', globPattern: '*.csv' }] }] };
    expect(refusal(() => readManifest(JSON.stringify(patterns), 'm.manifest.cdm.json')).message).toContain('data partition patterns are not read');
  });
});
