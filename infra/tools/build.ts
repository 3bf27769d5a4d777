// `npm run infra:build`: compiles infra/main.bicep with the real Bicep CLI into a temporary folder
// and lints every .bicep file under infra/. Exits non-zero on any error or warning: the linter's
// rules are errors (infra/bicepconfig.json), and a warning that stays is disabled where it occurs,
// with the reason.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bicepFiles, findBicep, formatDiagnostic, HOW_TO_GET_BICEP, problems, type BicepResult } from './bicep';

const INFRA_DIR = path.resolve('infra');

function report(step: string, result: BicepResult): boolean {
  const found = problems(result);
  for (const diagnostic of found) console.log(formatDiagnostic(diagnostic));
  const other = result.stderr
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '' && !result.diagnostics.some((diagnostic) => line.includes(diagnostic.message)));
  for (const line of other) console.log(line);
  const ok = result.exitCode === 0 && found.length === 0;
  console.log(`${step}: ${ok ? 'clean' : `failed (exit code ${result.exitCode}, ${found.length} errors and warnings)`}`);
  return ok;
}

async function main(): Promise<number> {
  const cli = await findBicep({ toolsDir: path.join(INFRA_DIR, 'tools') });
  if (!cli) {
    console.error(`No Bicep CLI found: ${HOW_TO_GET_BICEP}.`);
    return 1;
  }
  console.log(`Bicep CLI ${cli.version} (${cli.source}: ${cli.command})`);

  // The compiled template is for reading, never for committing: it goes to a new temporary folder.
  const outDir = mkdtempSync(path.join(tmpdir(), 'segment-export-infra-'));
  const built = await cli.buildToDirectory(path.join(INFRA_DIR, 'main.bicep'), outDir);
  const buildOk = report(`bicep build infra/main.bicep -> ${path.join(outDir, 'main.json')}`, built);

  const files = bicepFiles(INFRA_DIR);
  const linted = await cli.lint(INFRA_DIR, files);
  const lintOk = report(`bicep lint (${files.length} files: ${files.join(', ')})`, linted);
  return buildOk && lintOk ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
