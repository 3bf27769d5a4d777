import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BicepCli, findBicep, formatDiagnostic, HOW_TO_GET_BICEP, problems } from '../../infra/tools/bicep';
import { Deployment, type Resource, templateSchema, type TemplateJson, type Value } from './arm';

/**
 * The template as the real Bicep CLI compiles it, for the tests: found once per test process,
 * compiled once per content of infra/ (a cache in the temporary folder, keyed by every file's
 * bytes and the CLI's version). Without a CLI: undefined, and the tests that need it skip, except
 * in CI (`CI=true`), where a missing CLI fails the run.
 */
export const INFRA_DIR = fileURLToPath(new URL('../../infra/', import.meta.url));
export const TOOLS_DIR = path.join(INFRA_DIR, 'tools');
export const REPO_DIR = path.join(INFRA_DIR, '..');

let cliPromise: Promise<BicepCli | undefined> | undefined;

/** The CLI the tests use; in CI, none is an error. */
export function bicepCli(): Promise<BicepCli | undefined> {
  cliPromise ??= findBicep({ toolsDir: TOOLS_DIR }).then((cli) => {
    if (!cli && process.env.CI === 'true') throw new Error(`CI needs the Bicep CLI and none was found: ${HOW_TO_GET_BICEP}`);
    return cli;
  });
  return cliPromise;
}

export const SKIPPED_WITHOUT_CLI = `Bicep compile and lint skipped: no Bicep CLI found; ${HOW_TO_GET_BICEP}.`;

export interface Compiled {
  json: TemplateJson;
  /** The template expanded for one deployment (test/infra/arm.ts). */
  main: Deployment;
}

let compiledPromise: Promise<Compiled | undefined> | undefined;

/** infra/main.bicep compiled; undefined when there is no CLI (outside CI). */
export function compiledTemplate(): Promise<Compiled | undefined> {
  compiledPromise ??= (async () => {
    const cli = await bicepCli();
    if (!cli) return undefined;
    const json = templateSchema.parse(JSON.parse(await compiledJson(cli)));
    return { json, main: Deployment.entry(json) };
  })();
  return compiledPromise;
}

/** The template expanded again: with other inputs, or changed (a copy: the cached one stays intact). */
export function expand(json: TemplateJson, inputs?: { [name: string]: Value }): Deployment {
  return Deployment.entry(templateSchema.parse(structuredClone(json)), inputs);
}

async function compiledJson(cli: BicepCli): Promise<string> {
  const hash = createHash('sha256').update(cli.source).update(cli.version);
  for (const file of inputFiles()) hash.update(file).update(readFileSync(path.join(INFRA_DIR, file)));
  const cached = path.join(tmpdir(), `segment-export-main-${hash.digest('hex').slice(0, 16)}.json`);
  if (existsSync(cached)) return readFileSync(cached, 'utf8');
  const result = await cli.buildToStdout(path.join(INFRA_DIR, 'main.bicep'));
  const found = problems(result);
  if (result.exitCode !== 0 || found.length > 0) {
    throw new Error(`bicep build infra/main.bicep failed:\n${found.map((diagnostic) => formatDiagnostic(diagnostic, REPO_DIR)).join('\n') || result.stderr}`);
  }
  // Written whole, then renamed: a test process that reads it at the same moment sees all or nothing.
  const partial = `${cached}.${process.pid}`;
  writeFileSync(partial, result.stdout);
  renameSync(partial, cached);
  return result.stdout;
}

/** What the compiled template depends on: the Bicep files and the JSON they load. */
function inputFiles(): string[] {
  return readdirSync(INFRA_DIR, { recursive: true, encoding: 'utf8' })
    .filter((name) => /\.(bicep|json)$/.test(name) && !name.split(path.sep).includes('obj'))
    .sort();
}

/** The one resource of a type that the template creates (not `existing`). */
export function created(main: Deployment, type: string): Resource {
  const found = main.allResources().filter((resource) => resource.type === type && !resource.existing);
  if (found.length !== 1) throw new Error(`Expected one ${type}, found ${found.length}`);
  return found[0]!;
}

/** Every resource of a type that the template creates. */
export function allCreated(main: Deployment, type: string): Resource[] {
  return main.allResources().filter((resource) => resource.type === type && !resource.existing);
}

/** The last segment of a resource's name: the queue, table or container name. */
export function leafName(resource: Resource): string {
  return String(resource.name).split('/').at(-1)!;
}

/** The one `Microsoft.Web/sites/config` resource of a name (`appsettings`, `authsettingsV2`). */
export function siteConfig(main: Deployment, name: string): Resource {
  const found = allCreated(main, 'Microsoft.Web/sites/config').filter((resource) => String(resource.name).endsWith(`/${name}`));
  if (found.length !== 1) throw new Error(`Expected one site config ${name}, found ${found.length}`);
  return found[0]!;
}

/** The app settings resource and its settings. */
export function appSettings(main: Deployment): { resource: Resource; body: { [name: string]: Value } } {
  const resource = siteConfig(main, 'appsettings');
  const properties = resource.body.properties;
  if (properties === null || typeof properties !== 'object' || Array.isArray(properties) || !isPlainObject(properties)) {
    throw new Error('appsettings has no properties object');
  }
  return { resource, body: properties };
}

function isPlainObject(value: object): value is { [name: string]: Value } {
  return Object.getPrototypeOf(value) === Object.prototype;
}

/** Built-in roles (ids are the same in every subscription) and the one resource type each is granted on. */
export const APP_ROLES = [
  { role: 'Storage Blob Data Owner', id: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b', scope: 'Microsoft.Storage/storageAccounts' },
  { role: 'Storage Queue Data Contributor', id: '974c5e8b-45b9-4653-ba55-5f855dd0fb88', scope: 'Microsoft.Storage/storageAccounts' },
  { role: 'Storage Table Data Contributor', id: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3', scope: 'Microsoft.Storage/storageAccounts' },
  { role: 'Key Vault Secrets Officer', id: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7', scope: 'Microsoft.KeyVault/vaults' },
  { role: 'Monitoring Metrics Publisher', id: '3913510d-42f4-4e42-8a64-420c390055eb', scope: 'Microsoft.Insights/components' },
];

export interface RoleAssignment {
  resource: Resource;
  /** The role definition's GUID. */
  roleId: string | undefined;
  /** The resource the role is granted on, when the template creates it. */
  scope: Resource | undefined;
}

export function roleAssignments(main: Deployment): RoleAssignment[] {
  const resources = main.allResources().filter((resource) => !resource.existing);
  return allCreated(main, 'Microsoft.Authorization/roleAssignments').map((resource) => {
    const definition = (resource.body.properties as { [name: string]: Value } | undefined)?.roleDefinitionId;
    const scopeId = resource.id.slice(0, resource.id.indexOf('/providers/Microsoft.Authorization/roleAssignments/'));
    return {
      resource,
      roleId: typeof definition === 'string' ? /\/roleDefinitions\/([0-9a-f-]{36})$/.exec(definition)?.[1] : undefined,
      scope: resources.find((candidate) => candidate.id === scopeId),
    };
  });
}
