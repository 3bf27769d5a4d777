// What makes an export valid, given its connection's provider and its segments: every segment
// exists, every mapped field is in every segment, a Brevo export names a list and the others do
// not. Pure: the API reads the connection and the segments and asks.
import { randomBytes } from 'node:crypto';
import { MAPPING_KEYS, type Export } from '../domain/export';
import type { ProviderName } from '../domain/provider';
import type { Segment } from '../domain/segment';
import { validationError, type AppError, type ValidationIssue } from '../errors';
import { providerDisplayName } from '../providers/errors';

export type Problem = ValidationIssue;

export function newExportId(): string {
  return `exp-${randomBytes(6).toString('hex')}`;
}

/** Every problem of an export; `segments[i]` is the segment of `value.segmentIds[i]`, undefined when it does not exist. */
export function exportProblems(value: Export, provider: ProviderName, segments: readonly (Segment | undefined)[]): Problem[] {
  const problems: Problem[] = [];
  value.segmentIds.forEach((segmentId, index) => {
    if (!segments[index]) problems.push({ path: `segmentIds.${index}`, message: `segment '${segmentId}' does not exist` });
  });
  const present = segments.filter((segment): segment is Segment => segment !== undefined);
  for (const key of MAPPING_KEYS) {
    const source = value.mapping[key];
    if (source === undefined) continue;
    for (const segment of present) {
      if (!segment.fields.includes(source)) {
        problems.push({ path: `mapping.${key}`, message: `field '${source}' is not in segment '${segment.id}' (its fields: ${segment.fields.join(', ')})` });
      }
    }
  }
  if (provider === 'brevo' && value.options.listId === undefined) {
    problems.push({ path: 'options.listId', message: 'a Brevo export needs the id of an existing list' });
  }
  if (provider !== 'brevo' && value.options.listId !== undefined) {
    problems.push({ path: 'options.listId', message: `${providerDisplayName(provider)} takes the list or tag from the segment's name; listId is for Brevo only` });
  }
  return problems;
}

/** The 400 that lists every problem. */
export function invalidExport(problems: readonly Problem[]): AppError {
  return validationError('export', problems);
}
