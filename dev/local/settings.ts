import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

const localSettingsSchema = z.object({
  IsEncrypted: z.boolean().optional(),
  Values: z.record(z.string(), z.string()).default({}),
  Host: z.object({ LocalHttpPort: z.number().int().min(0).max(65535).optional() }).partial().optional(),
});

export interface LocalSettings {
  values: Record<string, string>;
  port: number | undefined;
  /** True when the file was just created from the sample. */
  created: boolean;
}

/**
 * Reads `local.settings.json` like Core Tools does, creating it from the sample when it is missing.
 * Empty values count as unset.
 */
export function readLocalSettings(projectRoot: string): LocalSettings {
  const file = join(projectRoot, 'local.settings.json');
  let created = false;
  if (!existsSync(file)) {
    copyFileSync(join(projectRoot, 'local.settings.sample.json'), file);
    created = true;
  }
  const parsed = localSettingsSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    throw new Error(`local.settings.json is not valid: ${parsed.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`).join('; ')}`);
  }
  const values = Object.fromEntries(Object.entries(parsed.data.Values).filter(([, value]) => value !== ''));
  return { values, port: parsed.data.Host?.LocalHttpPort, created };
}

/** A variable already set in the process environment wins over the file. */
export function applyLocalSettings(values: Record<string, string>, env: NodeJS.ProcessEnv = process.env): void {
  for (const [name, value] of Object.entries(values)) {
    if (env[name] === undefined || env[name] === '') env[name] = value;
  }
}
