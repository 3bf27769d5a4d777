import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { StartEmulatorsOptions } from './index';

export const USAGE = `Usage: npm run emulators -- [options]

Starts the Iterable, Brevo and Omnisend emulators on 127.0.0.1 and runs until Ctrl-C.

  --port-iterable N    port of the Iterable emulator (default: random)
  --port-brevo N       port of the Brevo emulator (default: random)
  --port-omnisend N    port of the Omnisend emulator (default: random)
  --rate-scale X       multiply every documented rate limit by X (default 1)
  --unthrottled        no rate limits at all
  --key KEY            an accepted API key, for all three (repeatable; default one key per provider)
  --async-delay-ms N   how long Brevo imports and Omnisend batches take (default 200)
  --record-bodies      keep request bodies in the request log
  --forget-attributes  keep contacts' emails and memberships only, not their fields (10M benchmarks)
  --help               this text`;

const port = z.coerce.number().int().min(0).max(65_535);
const cliSchema = z.object({
  'port-iterable': port.optional(),
  'port-brevo': port.optional(),
  'port-omnisend': port.optional(),
  'rate-scale': z.coerce.number().positive().optional(),
  unthrottled: z.boolean().optional(),
  key: z.array(z.string().min(1)).optional(),
  'async-delay-ms': z.coerce.number().int().min(0).optional(),
  'record-bodies': z.boolean().optional(),
  'forget-attributes': z.boolean().optional(),
  help: z.boolean().optional(),
});

export type CliCommand = { kind: 'help' } | { kind: 'start'; options: StartEmulatorsOptions };

/** Throws with a message naming every bad argument. */
export function parseCliArgs(args: readonly string[]): CliCommand {
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    allowPositionals: false,
    options: {
      'port-iterable': { type: 'string' },
      'port-brevo': { type: 'string' },
      'port-omnisend': { type: 'string' },
      'rate-scale': { type: 'string' },
      unthrottled: { type: 'boolean' },
      key: { type: 'string', multiple: true },
      'async-delay-ms': { type: 'string' },
      'record-bodies': { type: 'boolean' },
      'forget-attributes': { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  const parsed = cliSchema.safeParse(values);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `--${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`Bad arguments:\n  ${problems.join('\n  ')}`);
  }
  const cli = parsed.data;
  if (cli.help) return { kind: 'help' };
  const options: StartEmulatorsOptions = {
    iterable: { port: cli['port-iterable'] },
    brevo: { port: cli['port-brevo'] },
    omnisend: { port: cli['port-omnisend'] },
  };
  if (cli['rate-scale'] !== undefined) options.rateScale = cli['rate-scale'];
  if (cli.unthrottled) options.unthrottled = true;
  if (cli.key) options.apiKeys = cli.key;
  if (cli['async-delay-ms'] !== undefined) options.asyncDelayMs = cli['async-delay-ms'];
  if (cli['record-bodies']) options.recordBodies = true;
  if (cli['forget-attributes']) options.retainAttributes = false;
  return { kind: 'start', options };
}
