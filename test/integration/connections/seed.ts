import { randomUUID } from 'node:crypto';
import type { AppContext } from '../../../src/app/context';
import { createConnectionRow } from '../../../src/connections/repository';
import { secretNameFor } from '../../../src/connections/service';
import type { Connection } from '../../../src/domain/connection';
import { createExportRow } from '../../../src/exports/repository';

/** A connection written straight to storage (no provider involved), with its key in the store. */
export async function seedConnection(
  context: AppContext,
  overrides: Partial<Omit<Connection, 'secretName' | 'secretVersion'>> & { apiKey?: string } = {},
): Promise<Connection> {
  const { apiKey = `seeded-key-${randomUUID()}`, ...fields } = overrides;
  const id = fields.id ?? randomUUID();
  const stored = await context.secrets.setSecret(secretNameFor(id), apiKey);
  const now = '2026-01-01T00:00:00.000Z';
  const connection: Connection = {
    id,
    displayName: 'Seeded',
    provider: 'brevo',
    allowContributors: false,
    options: {},
    consent: { acceptedBy: 'ada@example.com', acceptedByUserId: 'oid-ada', acceptedAt: now },
    createdAt: now,
    createdBy: 'oid-ada',
    updatedAt: now,
    updatedBy: 'oid-ada',
    ...fields,
    secretName: stored.name,
    secretVersion: stored.version,
  };
  await createConnectionRow(context, connection);
  return connection;
}

/** An export row that uses the connection, as the exports table holds it. */
export async function seedExport(context: AppContext, connectionId: string, exportId = `export-${randomUUID()}`): Promise<string> {
  const now = '2026-01-01T00:00:00.000Z';
  await createExportRow(context, {
    id: exportId,
    name: `Export ${exportId}`,
    connectionId,
    segmentIds: ['segment-a'],
    mapping: { email: 'email' },
    options: {},
    createdAt: now,
    createdBy: 'oid-ada',
    updatedAt: now,
    updatedBy: 'oid-ada',
  });
  return exportId;
}

/** Every entity of every table of the context's namespace, for leak checks. */
export async function allTableEntities(context: AppContext): Promise<unknown[]> {
  const entities: unknown[] = [];
  for (const table of Object.values(context.storage.names.tables)) {
    for await (const entity of context.storage.table(table).listEntities()) entities.push(entity);
  }
  return entities;
}
