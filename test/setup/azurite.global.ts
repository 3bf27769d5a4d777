import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { startAzurite } from '../../dev/local/azurite';

declare module 'vitest' {
  export interface ProvidedContext {
    storageConnectionString: string;
  }
}

/** One in-memory Azurite for the whole run; every test file uses its own table, queue and container names. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const azurite = await startAzurite();
  project.provide('storageConnectionString', azurite.connectionString);
  return () => azurite.stop();
}
