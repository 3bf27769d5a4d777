import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FunctionDefinition } from '../../src/app/definitions';

/**
 * Loads every function file of a folder (as the Functions host does with `main`) and collects the
 * definitions they export. Registration itself is skipped outside the host, so the library's
 * test-mode warnings are muted while loading.
 */
export async function loadDefinitions(directory: string): Promise<FunctionDefinition[]> {
  const files = readdirSync(directory).filter((file) => /\.(js|ts)$/.test(file) && !/\.d\.ts$|\.map$/.test(file)).sort();
  const definitions: FunctionDefinition[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && /test mode/.test(args[0])) return;
    warn(...args);
  };
  try {
    for (const file of files) {
      const loaded = (await import(pathToFileURL(join(directory, file)).href)) as Record<string, unknown>;
      const exported: Record<string, unknown> =
        loaded.default && typeof loaded.default === 'object' ? { ...loaded, ...(loaded.default as Record<string, unknown>) } : loaded;
      // A file may export one definition or an array of them (one per provider).
      for (const value of Object.values(exported).flatMap((item) => (Array.isArray(item) ? (item as unknown[]) : [item]))) {
        if (isDefinition(value) && !definitions.includes(value)) definitions.push(value);
      }
    }
  } finally {
    console.warn = warn;
  }
  const names = new Set<string>();
  for (const definition of definitions) {
    if (names.has(definition.name)) throw new Error(`Two functions are named '${definition.name}'`);
    names.add(definition.name);
  }
  return definitions;
}

function isDefinition(value: unknown): value is FunctionDefinition {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { kind?: unknown; name?: unknown; options?: { handler?: unknown } };
  return (
    (candidate.kind === 'http' || candidate.kind === 'timer' || candidate.kind === 'queue') &&
    typeof candidate.name === 'string' &&
    typeof candidate.options?.handler === 'function'
  );
}
