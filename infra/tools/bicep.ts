// The real Bicep CLI, found and run: `npm run infra:build` (build.ts) and the tests in test/infra
// use it to compile and lint infra/. It is found, in this order, at BICEP_PATH, as `bicep` on
// PATH, through `az bicep`, or in the NuGet package that `dotnet restore infra/tools` brings.
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export type BicepSource = 'BICEP_PATH' | 'PATH' | 'az bicep' | 'NuGet';

/** One line of the CLI's diagnostics: `file(line,column) : Error code: message`. */
export interface BicepDiagnostic {
  file: string;
  line: number;
  column: number;
  level: 'Error' | 'Warning' | 'Info';
  code: string;
  message: string;
}

export interface BicepResult {
  /** Exit code; null when the process could not start or was killed. */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  diagnostics: BicepDiagnostic[];
}

export interface FindBicepOptions {
  /** Where BICEP_PATH and PATH are read; the process environment by default. */
  env?: NodeJS.ProcessEnv;
  /** The folder of bicep-cli.csproj, which pins the NuGet package's version. */
  toolsDir: string;
  abortSignal?: AbortSignal;
}

export interface RunOptions {
  abortSignal?: AbortSignal;
}

/** How to get a CLI, for the messages that say none was found. */
export const HOW_TO_GET_BICEP =
  'run `dotnet restore infra/tools` (the .NET SDK brings the pinned Bicep CLI from NuGet), install `bicep` on PATH or with `az bicep install`, or set BICEP_PATH';

/** The NuGet package of the CLI for this machine; the project restores the linux-x64 one. */
const PACKAGE_ID = 'Azure.Bicep.CommandLine.linux-x64';

const versionSchema = z.string().regex(/^\d+\.\d+\.\d+$/);

export class BicepCli {
  constructor(
    readonly source: BicepSource,
    /** The executable: `bicep`, a path, or `az`. */
    readonly command: string,
    readonly version: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** Compiles a template to ARM JSON, returned in `stdout`. */
  buildToStdout(file: string, options: RunOptions = {}): Promise<BicepResult> {
    const args = this.source === 'az bicep' ? ['bicep', 'build', '--file', file, '--stdout'] : ['build', file, '--stdout'];
    return this.run(args, options);
  }

  /** Compiles a template into a folder (`<name>.json`). */
  buildToDirectory(file: string, outDir: string, options: RunOptions = {}): Promise<BicepResult> {
    const args = this.source === 'az bicep' ? ['bicep', 'build', '--file', file, '--outdir', outDir] : ['build', file, '--outdir', outDir];
    return this.run(args, options);
  }

  /**
   * Lints every `.bicep` file of a folder: in one process with `--pattern`, or one process per file
   * through `az bicep`, which has no `--pattern`. A module's diagnostics also come with each file
   * that uses it: each is reported once.
   */
  async lint(directory: string, files: readonly string[], options: RunOptions = {}): Promise<BicepResult> {
    const results: BicepResult[] = [];
    if (this.source !== 'az bicep') results.push(await this.run(['lint', '--pattern', path.join(directory, '**', '*.bicep')], options));
    else for (const file of files) results.push(await this.run(['bicep', 'lint', '--file', path.join(directory, file)], options));
    const seen = new Set<string>();
    return {
      exitCode: results.find((result) => result.exitCode !== 0)?.exitCode ?? 0,
      stdout: results.map((result) => result.stdout).join(''),
      stderr: results.map((result) => result.stderr).join(''),
      diagnostics: results
        .flatMap((result) => result.diagnostics)
        .filter((diagnostic) => {
          const key = formatDiagnostic(diagnostic, '/');
          return !seen.has(key) && Boolean(seen.add(key));
        }),
    };
  }

  private async run(args: string[], options: RunOptions): Promise<BicepResult> {
    const result = await runProcess(this.command, args, { env: this.env, abortSignal: options.abortSignal });
    return { ...result, diagnostics: parseDiagnostics(result.stderr) };
  }
}

/** The first CLI that answers `--version`, in the documented order; undefined when there is none. */
export async function findBicep(options: FindBicepOptions): Promise<BicepCli | undefined> {
  const env = options.env ?? process.env;
  const run = (command: string, args: string[]) => runProcess(command, args, { env, abortSignal: options.abortSignal });

  const explicit = env.BICEP_PATH;
  if (explicit) {
    // A path that someone set on purpose and that does not work is a mistake to report, not to skip.
    const version = await versionOf(run, explicit, ['--version']);
    if (!version) throw new Error(`BICEP_PATH is ${explicit}, which does not answer \`--version\` as a Bicep CLI`);
    return new BicepCli('BICEP_PATH', explicit, version, env);
  }
  const onPath = await versionOf(run, 'bicep', ['--version']);
  if (onPath) return new BicepCli('PATH', 'bicep', onPath, env);
  const viaAz = await versionOf(run, 'az', ['bicep', 'version', '--only-show-errors']);
  if (viaAz) return new BicepCli('az bicep', 'az', viaAz, env);
  const restored = await restoredBicep(run, options.toolsDir);
  if (restored) {
    const version = await versionOf(run, restored, ['--version']);
    if (version) return new BicepCli('NuGet', restored, version, env);
  }
  return undefined;
}

/** The version that bicep-cli.csproj pins. */
export function pinnedVersion(toolsDir: string): string {
  const project = readFileSync(path.join(toolsDir, 'bicep-cli.csproj'), 'utf8');
  const match = new RegExp(`Include="${PACKAGE_ID.replaceAll('.', '\\.')}"\\s+Version="\\[([^\\]]+)\\]"`).exec(project);
  if (!match) throw new Error(`bicep-cli.csproj pins no exact version of ${PACKAGE_ID}`);
  return versionSchema.parse(match[1]);
}

/** Where `dotnet restore` put the pinned CLI, when it did; the global packages folder is asked of dotnet. */
async function restoredBicep(run: ProcessRunner, toolsDir: string): Promise<string | undefined> {
  if (process.platform !== 'linux' || process.arch !== 'x64') return undefined;
  const locals = await run('dotnet', ['nuget', 'locals', 'global-packages', '--list']);
  if (locals.exitCode !== 0) return undefined;
  const folder = /global-packages:\s*(.+?)\s*$/m.exec(locals.stdout)?.[1];
  if (!folder) return undefined;
  const binary = path.join(folder, PACKAGE_ID.toLowerCase(), pinnedVersion(toolsDir), 'tools', 'bicep');
  if (!existsSync(binary)) return undefined;
  try {
    accessSync(binary, constants.X_OK);
  } catch {
    throw new Error(`${binary} is not executable (restored by another user?): chmod u+x it, or restore again`);
  }
  return binary;
}

async function versionOf(run: ProcessRunner, command: string, args: string[]): Promise<string | undefined> {
  const result = await run(command, args);
  if (result.exitCode !== 0) return undefined;
  return /Bicep CLI version (\d+\.\d+\.\d+)/.exec(result.stdout + result.stderr)?.[1];
}

const DIAGNOSTIC = /^(.+)\((\d+),(\d+)\) : (Error|Warning|Info) ([\w-]+): (.*)$/;

/** The CLI's diagnostics in its default format; other lines (notices, stack traces) are not diagnostics. */
export function parseDiagnostics(output: string): BicepDiagnostic[] {
  return output.split(/\r?\n/).flatMap((line) => {
    const match = DIAGNOSTIC.exec(line.trim());
    if (!match) return [];
    const [, file, row, column, level, code, message] = match;
    return [{ file: file!, line: Number(row), column: Number(column), level: level as BicepDiagnostic['level'], code: code!, message: message! }];
  });
}

export function formatDiagnostic(diagnostic: BicepDiagnostic, relativeTo = process.cwd()): string {
  const file = path.relative(relativeTo, diagnostic.file).split(path.sep).join('/');
  return `${file}(${diagnostic.line},${diagnostic.column}) : ${diagnostic.level} ${diagnostic.code}: ${diagnostic.message}`;
}

/** Errors and warnings: what fails the build (the linter's rules are errors; compiler warnings count too). */
export function problems(result: BicepResult): BicepDiagnostic[] {
  return result.diagnostics.filter((diagnostic) => diagnostic.level !== 'Info');
}

/** Every `.bicep` file under a folder, relative, with forward slashes, sorted. */
export function bicepFiles(directory: string): string[] {
  return readdirSync(directory, { recursive: true, encoding: 'utf8' })
    .map((name) => name.split(path.sep).join('/'))
    .filter((name) => name.endsWith('.bicep'))
    .sort();
}

type ProcessRunner = (command: string, args: string[]) => Promise<Omit<BicepResult, 'diagnostics'>>;

function runProcess(
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; abortSignal?: AbortSignal | undefined },
): Promise<Omit<BicepResult, 'diagnostics'>> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      env: { ...options.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      signal: options.abortSignal,
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const done = (exitCode: number | null, error?: Error) =>
      resolve({
        exitCode,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8') + (error ? `${error.message}\n` : ''),
      });
    // A missing command is an answer ("not here"), not a failure of the search.
    child.on('error', (error) => done(null, error));
    child.on('close', (code) => done(code));
  });
}
