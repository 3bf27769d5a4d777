import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FunctionDefinition } from '../../src/app/definitions';
import { DEFAULT_REFRESH_SCHEDULE, SETTING_NAMES, settingsSchema } from '../../src/config';
import { WEB_ANONYMOUS_PATHS } from '../../src/api/web';
import { allQueueNames, CONTAINER_NAMES, TABLE_NAMES } from '../../src/storage/names';
import { at, Expr, INFRA_DIR, isRecord, type ResourceDeclaration, Templates, type Value } from './bicep';

/**
 * The template against the code: every setting the app reads is set in Azure (or has a reason
 * not to be), and every queue, table and container the code names exists. The names come from
 * src/config.ts and src/storage/names.ts, so adding one in code without the template fails here.
 */
let templates: Templates;
let definitions: FunctionDefinition[];

beforeAll(async () => {
  templates = await Templates.load();
  definitions = await functionDefinitions();
});

/** Every function the app registers: each file in functions/ exports its definition. */
async function functionDefinitions(): Promise<FunctionDefinition[]> {
  const directory = path.join(INFRA_DIR, '..', 'functions');
  const found: FunctionDefinition[] = [];
  for (const file of readdirSync(directory).filter((name) => name.endsWith('.ts')).sort()) {
    const module = (await import(pathToFileURL(path.join(directory, file)).href)) as Record<string, unknown>;
    for (const value of Object.values(module)) {
      const kind = (value as { kind?: unknown } | null)?.kind;
      if (typeof value === 'object' && (kind === 'http' || kind === 'timer' || kind === 'queue')) found.push(value as FunctionDefinition);
    }
  }
  return found;
}

/** Settings the template leaves unset on purpose; each must be optional in the schema. */
const NOT_SET_IN_AZURE: Record<string, string> = {
  AzureWebJobsStorage: 'the connection-string form; Azure uses the identity form (__accountName), shared keys are off',
  AzureWebJobsStorage__blobServiceUri: 'derived from __accountName; only for endpoints that the account name cannot give (Azurite)',
  AzureWebJobsStorage__queueServiceUri: 'derived from __accountName; only for endpoints that the account name cannot give (Azurite)',
  AzureWebJobsStorage__tableServiceUri: 'derived from __accountName; only for endpoints that the account name cannot give (Azurite)',
  ITERABLE_BASE_URL: 'test-only override (emulators); unset, the connection region picks the host',
  BREVO_BASE_URL: 'test-only override (emulators); unset, the real API root is used',
  OMNISEND_BASE_URL: 'test-only override (emulators); unset, the real API root is used',
  LOCAL_SECRETS_FILE: 'local secret store only; Azure uses Key Vault (KEY_VAULT_URL)',
};

/** Settings the template sets for the platform and SDKs rather than for src/config.ts. */
const PLATFORM_SETTINGS: Record<string, string> = {
  AZURE_CLIENT_ID: 'DefaultAzureCredential picks the user-assigned identity by it (Key Vault)',
  APPLICATIONINSIGHTS_CONNECTION_STRING: 'where the Functions host sends telemetry',
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Entra authentication for telemetry, since local authentication is off',
};

function appSettingsResource(): ResourceDeclaration {
  const found = templates.resources('Microsoft.Web/sites/config').filter((resource) => templates.body(resource).name === 'appsettings');
  expect(found, 'one appsettings resource').toHaveLength(1);
  return found[0]!;
}

function templateSettings(): { [key: string]: Value } {
  const properties = at(templates.body(appSettingsResource()), 'properties');
  if (!isRecord(properties)) throw new Error('appsettings has no literal properties object');
  return properties;
}

function literalNames(type: string): string[] {
  return templates.namesCreated(type).filter((name): name is string => typeof name === 'string');
}

describe('app settings', () => {
  it('sets every setting of src/config.ts, or leaves it unset for a stated reason', () => {
    const set = Object.keys(templateSettings());
    expect(SETTING_NAMES.filter((name) => !set.includes(name) && !(name in NOT_SET_IN_AZURE))).toEqual([]);
  });

  it.each(Object.entries(NOT_SET_IN_AZURE))('%s is a setting that may stay unset (%s)', (name) => {
    expect(SETTING_NAMES).toContain(name);
    expect(Object.keys(templateSettings())).not.toContain(name);
    const schema = settingsSchema.shape[name as keyof typeof settingsSchema.shape];
    expect(schema.safeParse(undefined).success).toBe(true);
  });

  it('sets nothing the app does not read, apart from the platform settings', () => {
    const unknown = Object.keys(templateSettings()).filter(
      (name) => !(SETTING_NAMES as readonly string[]).includes(name) && !(name in PLATFORM_SETTINGS),
    );
    expect(unknown).toEqual([]);
  });

  it('schedules the refresh at the code default unless the deployment says otherwise', () => {
    const settings = templateSettings();
    expect(templates.resolve(appSettingsResource().file, settings.REFRESH_SCHEDULE!)).toEqual([DEFAULT_REFRESH_SCHEDULE]);
    const parameters = readFileSync(path.join(INFRA_DIR, 'main.parameters.json'), 'utf8');
    expect(parameters).toContain(`"\${REFRESH_SCHEDULE=${DEFAULT_REFRESH_SCHEDULE}}"`);
  });
});

describe('triggers', () => {
  it('sets every app setting that a trigger names as %SETTING% (the host resolves those, not src/config.ts)', () => {
    const named = definitions.flatMap((definition) =>
      [...JSON.stringify({ ...definition.options, handler: undefined }).matchAll(/%([A-Za-z0-9_]+)%/g)].map((match) => match[1]!),
    );
    expect(named).toContain('REFRESH_SCHEDULE');
    expect(named.filter((name) => !(name in templateSettings()))).toEqual([]);
  });

  it("creates the queue of every queue trigger and gives the trigger's connection an account", () => {
    const queues = definitions.flatMap((definition) => (definition.kind === 'queue' ? [definition.options] : []));
    expect(queues.length).toBeGreaterThan(0);
    const created = literalNames('Microsoft.Storage/storageAccounts/queueServices/queues');
    expect(queues.map((queue) => queue.queueName).filter((name) => !created.includes(name))).toEqual([]);
    const settings = Object.keys(templateSettings());
    expect(queues.map((queue) => queue.connection).filter((connection) => !settings.includes(`${connection}__accountName`))).toEqual([]);
  });
});

describe('storage names', () => {
  const QUEUES = 'Microsoft.Storage/storageAccounts/queueServices/queues';
  const TABLES = 'Microsoft.Storage/storageAccounts/tableServices/tables';
  const CONTAINERS = 'Microsoft.Storage/storageAccounts/blobServices/containers';

  it('creates every queue the code uses, poison queues included', () => {
    expect(allQueueNames().filter((name) => !literalNames(QUEUES).includes(name))).toEqual([]);
  });

  it('creates every table the code uses', () => {
    expect(Object.values(TABLE_NAMES).filter((name) => !literalNames(TABLES).includes(name))).toEqual([]);
  });

  it('creates every blob container the code uses', () => {
    expect(Object.values(CONTAINER_NAMES).filter((name) => !literalNames(CONTAINERS).includes(name))).toEqual([]);
  });

  it('creates no queue, table or container that the code has stopped using', () => {
    const used = new Set<string>([...allQueueNames(), ...Object.values(TABLE_NAMES), ...Object.values(CONTAINER_NAMES)]);
    const created = [...literalNames(QUEUES), ...literalNames(TABLES), ...literalNames(CONTAINERS)];
    expect(created.filter((name) => !used.has(name))).toEqual([]);
    // The one computed name: the container Flex Consumption deploys the package from.
    const computed = [QUEUES, TABLES, CONTAINERS].flatMap((type) => templates.namesCreated(type)).filter((name) => typeof name !== 'string');
    expect(computed.map((name) => (name instanceof Expr ? name.text : name))).toEqual([
      "'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'",
    ]);
  });
});

describe('routes outside App Service Authentication', () => {
  /** Functions that must answer without a token: the health check and Brevo's webhook (it carries its own token). */
  const isAnonymousByDesign = (publicPath: string) => publicPath === '/api/health' || publicPath.startsWith('/api/webhooks/brevo/');

  function routePrefix(): string {
    const hostJson = path.join(INFRA_DIR, '..', 'host.json');
    try {
      const prefix = (JSON.parse(readFileSync(hostJson, 'utf8')) as { extensions?: { http?: { routePrefix?: string } } }).extensions?.http?.routePrefix;
      return prefix ?? 'api';
    } catch {
      return 'api';
    }
  }

  /** The URL path of a function's route: host.json's routePrefix (possibly empty), then the route. */
  const publicPath = (route: string) => `/${[routePrefix(), route].filter((part) => part !== '').join('/')}`;

  function excludedPaths(): string[] {
    const auth = templates.resources('Microsoft.Web/sites/config').find((resource) => templates.body(resource).name === 'authsettingsV2');
    const paths = auth ? at(templates.body(auth), 'properties.globalValidation.excludedPaths') : undefined;
    return Array.isArray(paths) ? paths.filter((item): item is string => typeof item === 'string') : [];
  }

  /** App Service Authentication matches an excluded path exactly, or every path under a `/*` path. */
  const isExcluded = (requestPath: string) =>
    excludedPaths().some((excluded) => (excluded.endsWith('/*') ? requestPath.startsWith(excluded.slice(0, -1)) : requestPath === excluded));

  it('excludes exactly the functions that are anonymous by design', () => {
    const http = definitions.flatMap((definition) => (definition.kind === 'http' ? [definition] : []));
    expect(http.map(({ options }) => publicPath(options.route)).filter(isAnonymousByDesign).sort()).toEqual([
      '/api/health',
      '/api/webhooks/brevo/{token}',
    ]);
    for (const { name, options } of http) {
      const samplePath = publicPath(options.route).replace(/\{[^}]+\}/g, 'sample');
      expect(isExcluded(samplePath), `${name} (${samplePath})`).toBe(isAnonymousByDesign(samplePath));
    }
  });

  it("excludes the Brevo webhook's route from the public contract", () => {
    expect(isExcluded('/api/webhooks/brevo/an-unguessable-token')).toBe(true);
    expect(isExcluded('/api/webhooks/brevo')).toBe(false);
    expect(isExcluded('/api/connections')).toBe(false);
  });

  it("excludes nothing but those functions and the web app's page and assets, which hold no data", () => {
    const allowed = new Set<string>(['/api/health', '/api/webhooks/brevo/*', ...WEB_ANONYMOUS_PATHS]);
    expect(excludedPaths().filter((excluded) => !allowed.has(excluded))).toEqual([]);
    expect(WEB_ANONYMOUS_PATHS.filter((excluded) => excluded.startsWith('/api'))).toEqual([]);
  });
});
