import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type BicepResult, bicepFiles, formatDiagnostic, parseDiagnostics, pinnedVersion, problems } from '../../infra/tools/bicep';
import { bicepCli, compiledTemplate, INFRA_DIR, REPO_DIR, SKIPPED_WITHOUT_CLI, TOOLS_DIR } from './compiled';

/**
 * The templates through the real Bicep CLI: they compile, and the linter, with the rules that
 * matter set to errors, finds nothing. Without a CLI this says once that it skipped (in CI a
 * missing CLI fails instead: see compiled.ts).
 */
const cli = await bicepCli();
if (!cli) console.log(SKIPPED_WITHOUT_CLI);

const files = bicepFiles(INFRA_DIR);

describe.skipIf(!cli)('Bicep CLI', () => {
  // The CI log shows what the CLI said: nothing but its diagnostics, and none is expected.
  const summary = (step: string, result: BicepResult) =>
    console.log(`Bicep CLI ${cli!.version} (${cli!.source}) ${step}: exit code ${result.exitCode}, ${problems(result).length} errors and warnings${result.stderr.trim() ? `\n${result.stderr.trim()}` : ''}`);

  it('compiles infra/main.bicep with no error and no warning', async () => {
    const result = await cli!.buildToStdout(path.join(INFRA_DIR, 'main.bicep'));
    summary('bicep build infra/main.bicep', result);
    expect(problems(result).map((diagnostic) => formatDiagnostic(diagnostic, REPO_DIR))).toEqual([]);
    expect(result.exitCode).toBe(0);
    expect((await compiledTemplate())?.json.$schema).toMatch(/subscriptionDeploymentTemplate\.json#$/);
  });

  it('lints every .bicep file under infra/ clean', async () => {
    expect(files).toContain('main.bicep');
    const result = await cli!.lint(INFRA_DIR, files);
    summary(`bicep lint of ${files.length} files (${files.join(', ')})`, result);
    expect(problems(result).map((diagnostic) => formatDiagnostic(diagnostic, REPO_DIR))).toEqual([]);
    expect(result.exitCode).toBe(0);
  });

  it('fails the lint of a template that breaks a rule of infra/bicepconfig.json', async () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'segment-export-lint-'));
    writeFileSync(path.join(directory, 'bicepconfig.json'), readFileSync(path.join(INFRA_DIR, 'bicepconfig.json')));
    writeFileSync(path.join(directory, 'broken.bicep'), "param unused string\noutput hostName string = 'https://management.azure.com/'\n");
    const result = await cli!.lint(directory, ['broken.bicep']);
    expect(problems(result).map((diagnostic) => `${diagnostic.level} ${diagnostic.code}`).sort()).toEqual([
      'Error no-hardcoded-env-urls',
      'Error no-unused-params',
    ]);
    expect(result.exitCode).not.toBe(0);
  });
});

describe('infra/bicepconfig.json', () => {
  const configSchema = z.object({
    analyzers: z.object({
      core: z.object({
        enabled: z.literal(true),
        rules: z.record(z.string(), z.looseObject({ level: z.enum(['off', 'info', 'warning', 'error']) })),
      }),
    }),
  });
  const rules = configSchema.parse(JSON.parse(readFileSync(path.join(INFRA_DIR, 'bicepconfig.json'), 'utf8'))).analyzers.core.rules;

  it('makes every linter rule it names an error', () => {
    expect(Object.entries(rules).filter(([, rule]) => rule.level !== 'error')).toEqual([]);
  });

  it.each([
    'no-unused-params',
    'no-unused-vars',
    'no-unused-existing-resources',
    'no-hardcoded-env-urls',
    'outputs-should-not-contain-secrets',
    'secure-secrets-in-params',
    'secure-parameter-default',
    'use-secure-value-for-secure-inputs',
    'use-recent-api-versions',
    'use-resource-symbol-reference',
    'use-parent-property',
    'no-unnecessary-dependson',
    'what-if-short-circuiting',
    'use-user-defined-types',
  ])('makes %s an error', (rule) => {
    expect(rules[rule]?.level).toBe('error');
  });
});

describe('rules switched off in a template', () => {
  it.each(files)('%s says why next to each #disable-next-line', (file) => {
    const lines = readFileSync(path.join(INFRA_DIR, file), 'utf8').split('\n');
    const unexplained = lines.flatMap((line, index) => {
      if (!line.trim().startsWith('#disable-next-line')) return [];
      // The reason is a comment on the lines just above (a run of disables may share one).
      let above = index - 1;
      while (above >= 0 && lines[above]!.trim().startsWith('#disable-next-line')) above--;
      return above >= 0 && lines[above]!.trim().startsWith('//') ? [] : [`${file}:${index + 1}: ${line.trim()}`];
    });
    expect(unexplained).toEqual([]);
  });
});

describe('the CLI restore project', () => {
  it('pins one exact version of the Bicep CLI package', () => {
    expect(pinnedVersion(TOOLS_DIR)).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('diagnostics', () => {
  it("reads the CLI's diagnostics and nothing else", () => {
    const output = [
      '/repo/infra/main.bicep(12,5) : Warning no-unused-vars: Variable "x" is declared but never used. [https://aka.ms/bicep/linter-diagnostics#no-unused-vars]',
      'WARNING: A new Bicep release is available: v9.9.9.',
      '/repo/infra/core/storage.bicep(3,1) : Error BCP037: The property "bogus" is not allowed.',
      '/repo/infra/main.bicep(1,1) : Info use-recent-module-versions: fine.',
    ].join('\n');
    expect(parseDiagnostics(output)).toEqual([
      {
        file: '/repo/infra/main.bicep',
        line: 12,
        column: 5,
        level: 'Warning',
        code: 'no-unused-vars',
        message: 'Variable "x" is declared but never used. [https://aka.ms/bicep/linter-diagnostics#no-unused-vars]',
      },
      { file: '/repo/infra/core/storage.bicep', line: 3, column: 1, level: 'Error', code: 'BCP037', message: 'The property "bogus" is not allowed.' },
      { file: '/repo/infra/main.bicep', line: 1, column: 1, level: 'Info', code: 'use-recent-module-versions', message: 'fine.' },
    ]);
  });

  it('counts errors and warnings as problems, not infos', () => {
    const diagnostics = parseDiagnostics('a.bicep(1,1) : Warning w: x\nb.bicep(1,1) : Info i: y\nc.bicep(1,1) : Error e: z');
    expect(problems({ exitCode: 0, stdout: '', stderr: '', diagnostics }).map((diagnostic) => diagnostic.code)).toEqual(['w', 'e']);
  });
});
