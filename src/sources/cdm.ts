// Reading CDM folder descriptions: model.json (what Customer Insights writes) and, where present,
// `*.manifest.cdm.json` with the entity schema documents it points at. Out come the local entities
// with their attribute names in order and their partitions (location and CSV settings, in order).
// Producers add their own properties, so objects are read loosely; what the app needs is checked,
// and a file that does not have it is refused naming the line and column (syntax) or the property.
import { z } from 'zod';
import { type AppError, Errors, withDetails } from '../errors';
import { csvSettingsSchema, settingsFromTraitArguments, type CsvSettings } from './csv-format';
import { parseJson } from './json';

export interface CdmPartition {
  location: string;
  settings: CsvSettings | undefined;
}

export interface CdmEntity {
  name: string;
  /** Attribute names, in the order of the CSV columns. */
  attributes: string[];
  partitions: CdmPartition[];
}

/** A manifest's entity before its schema document is read. */
export interface ManifestEntity {
  name: string;
  /** The schema document, as the manifest names it (relative to the manifest, usually). */
  documentLocation: string;
  partitions: CdmPartition[];
}

const nameSchema = z.string().trim().min(1).max(256);

const modelJsonSchema = z.looseObject({
  entities: z.array(z.looseObject({ $type: z.string() })),
});

const localEntitySchema = z.looseObject({
  $type: z.literal('LocalEntity'),
  name: nameSchema,
  attributes: z.array(z.looseObject({ name: nameSchema })).min(1, 'an entity needs at least one attribute'),
  partitions: z
    .array(z.looseObject({ location: z.string().min(1).optional(), fileFormatSettings: csvSettingsSchema.optional() }))
    .default([]),
});

/** The local entities of a model.json that have data (partitions with a location). */
export function readModelJson(text: string, path: string): CdmEntity[] {
  const model = parseWith(modelJsonSchema, parseDocument(text, path), path);
  const entities: CdmEntity[] = [];
  model.entities.forEach((raw, index) => {
    if (raw.$type !== 'LocalEntity') return; // A ReferenceEntity lives in another model.
    const entity = parseWith(localEntitySchema, raw, path, `entities.${index}`);
    const partitions = entity.partitions.flatMap((partition) =>
      partition.location ? [{ location: partition.location, settings: partition.fileFormatSettings }] : [],
    );
    if (partitions.length > 0) entities.push({ name: entity.name, attributes: entity.attributes.map((attribute) => attribute.name), partitions });
  });
  return entities;
}

const traitReferenceSchema = z.union([
  z.string(),
  z.looseObject({ traitReference: z.string(), arguments: z.array(z.unknown()).optional() }),
]);

const manifestSchema = z.looseObject({
  entities: z.array(
    z.looseObject({
      type: z.string().optional(),
      entityName: nameSchema,
      entityPath: z.string().min(1).optional(),
      dataPartitions: z
        .array(z.looseObject({ location: z.string().min(1), exhibitsTraits: z.array(traitReferenceSchema).optional() }))
        .optional(),
      dataPartitionPatterns: z.array(z.unknown()).optional(),
    }),
  ),
});

const CSV_TRAIT = 'is.partition.format.CSV';

/** The local entities of a manifest that list partitions; their attributes are in the schema documents. */
export function readManifest(text: string, path: string): ManifestEntity[] {
  const manifest = parseWith(manifestSchema, parseDocument(text, path), path);
  const entities: ManifestEntity[] = [];
  manifest.entities.forEach((entity, index) => {
    if (entity.type !== undefined && entity.type !== 'LocalEntity') return;
    const partitions = entity.dataPartitions ?? [];
    if (partitions.length === 0) {
      if (entity.dataPartitionPatterns?.length) throw invalid(path, `entities.${index}: data partition patterns are not read; list the partitions`);
      return;
    }
    if (!entity.entityPath) throw invalid(path, `entities.${index}.entityPath: the entity's schema document is not named`);
    entities.push({
      name: entity.entityName,
      documentLocation: entity.entityPath,
      partitions: partitions.map((partition, p) => ({
        location: partition.location,
        settings: csvTraitSettings(partition.exhibitsTraits ?? [], path, `entities.${index}.dataPartitions.${p}`),
      })),
    });
  });
  return entities;
}

function csvTraitSettings(traits: readonly z.infer<typeof traitReferenceSchema>[], path: string, at: string): CsvSettings | undefined {
  const trait = traits.find((item) => (typeof item === 'string' ? item : item.traitReference) === CSV_TRAIT);
  if (trait === undefined || typeof trait === 'string') return undefined;
  return parseWith(csvSettingsSchema, settingsFromTraitArguments(trait.arguments ?? []), path, `${at}.exhibitsTraits`);
}

type AttributeItem = { name?: unknown; attributeGroupReference?: unknown };

const entityDocumentSchema = z.looseObject({
  definitions: z.array(z.looseObject({ entityName: z.string().optional(), hasAttributes: z.array(z.unknown()).optional() })),
});

/** The attribute names of `entityName` in a schema document (`X.cdm.json`), attribute groups flattened. */
export function readEntityDocument(text: string, path: string, entityName: string): string[] {
  const document = parseWith(entityDocumentSchema, parseDocument(text, path), path);
  const definition = document.definitions.find((item) => item.entityName === entityName);
  if (!definition?.hasAttributes) throw invalid(path, `no definition of entity '${entityName}' with attributes`);
  const names: string[] = [];
  const collect = (items: readonly unknown[], at: string): void =>
    items.forEach((item, index) => {
      const attribute = (typeof item === 'object' && item !== null ? item : {}) as AttributeItem;
      if (typeof attribute.name === 'string' && attribute.name.trim() !== '') return void names.push(attribute.name);
      const members = (attribute.attributeGroupReference as { members?: unknown } | undefined)?.members;
      if (Array.isArray(members)) return collect(members, `${at}.${index}.attributeGroupReference.members`);
      throw invalid(path, `${at}.${index}: only attributes with a name, or attribute groups that list their members, are read`);
    });
  collect(definition.hasAttributes, 'hasAttributes');
  if (names.length === 0) throw invalid(path, `entity '${entityName}' has no attributes`);
  return names;
}

function parseDocument(text: string, path: string): unknown {
  const parsed = parseJson(text);
  if (parsed.ok) return parsed.value;
  const { line, column, reason } = parsed;
  throw withDetails(Errors.sourceModelInvalid(path, `${reason} at line ${line}, column ${column}`), { path, line, column });
}

function parseWith<T extends z.ZodType>(schema: T, value: unknown, path: string, at?: string): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = [at, ...(issue?.path ?? []).map(String)].filter((part) => part !== undefined && part !== '').join('.');
  throw invalid(path, `${where || '(document)'}: ${issue?.message ?? 'not the expected shape'}`);
}

function invalid(path: string, reason: string): AppError {
  return withDetails(Errors.sourceModelInvalid(path, reason), { path });
}
