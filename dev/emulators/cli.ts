import { parseCliArgs, USAGE } from './cli-args';
import { startEmulators, type Emulators } from './index';

/** Printed for people: base URLs to paste into settings, and the keys to connect with. */
function describe(emulators: Emulators, rateScale: number | undefined, unthrottled: boolean | undefined): string {
  const lines = ['Provider emulators are running (Ctrl-C to stop).', '', 'App settings:'];
  for (const [name, value] of Object.entries(emulators.env)) lines.push(`  ${name}=${value}`);
  lines.push('', 'Accepted API keys:');
  for (const emulator of [emulators.iterable, emulators.brevo, emulators.omnisend]) {
    lines.push(`  ${emulator.provider.padEnd(9)} ${emulator.apiKeys.join(', ')}`);
  }
  const limits = unthrottled ? 'none (unthrottled)' : `documented limits x ${rateScale ?? 1}`;
  lines.push('', `Rate limits: ${limits}`, 'Inspection: GET <base origin>/_emulator/state on each of them');
  return lines.join('\n');
}

async function main(): Promise<void> {
  let command;
  try {
    command = parseCliArgs(process.argv.slice(2));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    console.error(USAGE);
    process.exitCode = 2;
    return;
  }
  if (command.kind === 'help') {
    console.log(USAGE);
    return;
  }
  const emulators = await startEmulators(command.options);
  console.log(describe(emulators, command.options.rateScale, command.options.unthrottled));
  const stop = () => {
    emulators.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
