import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDefinitions } from '../../dev/local/load-definitions';
import { WEB_ANONYMOUS_PATHS } from '../../src/api/web';
import type { FunctionDefinition } from '../../src/app/definitions';
import { DEFAULT_AUDIT_RETENTION_DAYS, DEFAULT_REFRESH_SCHEDULE, SETTING_NAMES, settingsSchema } from '../../src/config';
import { allQueueNames, CONTAINER_NAMES, TABLE_NAMES } from '../../src/storage/names';
import { DEPLOYMENT_INPUTS, type Deployment, type TemplateJson } from './arm';
import { allCreated, appSettings, compiledTemplate, expand, leafName, REPO_DIR, siteConfig } from './compiled';

/**
 * The compiled template against the code: every setting the app reads is set in Azure (or has a
 * reason not to be), and every queue, table and container the code names exists. The names come
 * from src/config.ts, src/storage/names.ts and the function definitions, so adding one in code
 * without the template fails here.
 */
const compiled = await compiledTemplate();
let definitions: FunctionDefinition[];

beforeAll(async () => {
  definitions = await functionDefinitions();
});

/** Every function the app registers, found the way the local host finds them. */
async function functionDefinitions(): Promise<FunctionDefinition[]> {
  return await loadDefinitions(path.join(REPO_DIR, 'functions'));
}

/** Settings the template leaves unset on purpose; each must be optional in the schema. */
const NOT_SET_IN_AZURE: Record<string, string> = {
  AzureWebJobsStorage: 'the connection-string form; Azure uses the identity form (__accountName), shared keys are off',
  AzureWebJobsStorage__blobServiceUri: 'derived from __accountName; only for endpoints that the account name cannot give (Azurite)',
  AzureWebJobsStorage__queueServiceUri: 'derived from __accountName; only for endpoints that the account name cannot give (Azurite)',
  AzureWebJobsStorage__tableServiceUri: 'derived from __accountName; only for endpoints that the account name cannot give (Azurite)',
  ITERABLE_BASE_URL: 'test-only override (emulators); unset, the connection region picks the host',
  SEGMENT_MAX_RECORDS: 'its default (2 M records) fits the instance memory the template gives; raise it with the instance memory',
  SEGMENT_MAX_UPLOAD_BYTES: 'its default (512 MiB) fits the instance memory the template gives',
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

const QUEUES = 'Microsoft.Storage/storageAccounts/queueServices/queues';
const TABLES = 'Microsoft.Storage/storageAccounts/tableServices/tables';
const CONTAINERS = 'Microsoft.Storage/storageAccounts/blobServices/containers';

const createdNames = (main: Deployment, type: string) => allCreated(main, type).map(leafName);

/** What the code needs and a deployment of the template would not create. */
function missing(main: Deployment, functions: FunctionDefinition[]) {
  const settings = Object.keys(appSettings(main).body);
  const queues = createdNames(main, QUEUES);
  const triggerQueues = functions.flatMap((definition) => (definition.kind === 'queue' ? [definition.options] : []));
  const triggerSettings = functions.flatMap((definition) =>
    [...JSON.stringify({ ...definition.options, handler: undefined }).matchAll(/%([A-Za-z0-9_]+)%/g)].map((match) => match[1]!),
  );
  return {
    settings: SETTING_NAMES.filter((name) => !settings.includes(name) && !(name in NOT_SET_IN_AZURE)),
    triggerSettings: triggerSettings.filter((name) => !settings.includes(name)),
    triggerQueues: triggerQueues.map((queue) => queue.queueName).filter((name) => !queues.includes(name)),
    triggerConnections: triggerQueues.map((queue) => queue.connection).filter((connection) => !settings.includes(`${connection}__accountName`)),
    queues: allQueueNames().filter((name) => !queues.includes(name)),
    tables: Object.values(TABLE_NAMES).filter((name) => !createdNames(main, TABLES).includes(name)),
    containers: Object.values(CONTAINER_NAMES).filter((name) => !createdNames(main, CONTAINERS).includes(name)),
  };
}

const NOTHING_MISSING = { settings: [], triggerSettings: [], triggerQueues: [], triggerConnections: [], queues: [], tables: [], containers: [] };

/** The compiled JSON of a module, to change in a copy of the template. */
function moduleTemplate(json: TemplateJson, name: string): Record<string, Record<string, unknown>> {
  const resources = Array.isArray(json.resources) ? json.resources : Object.values(json.resources);
  const module = resources.find((resource) => resource.type === 'Microsoft.Resources/deployments' && resource.name === name);
  if (!module) throw new Error(`no module ${name}`);
  return (module.properties as { template: Record<string, Record<string, unknown>> }).template;
}

describe.skipIf(!compiled)('compiled template against the code', () => {
  const main = compiled!.main;
  const settings = () => appSettings(main).body;

  it('creates everything the code needs: settings, trigger queues and connections, queues, tables, containers', () => {
    expect(definitions.some((definition) => definition.kind === 'queue')).toBe(true);
    expect(missing(main, definitions)).toEqual(NOTHING_MISSING);
  });

  describe('notices what a template lacks', () => {
    it('a poison queue', () => {
      const json = structuredClone(compiled!.json);
      json.variables!.queueNames = (json.variables!.queueNames as string[]).filter((name) => name !== 'export-chunks-brevo-poison');
      expect(missing(expand(json), definitions).queues).toEqual(['export-chunks-brevo-poison']);
    });

    it('a table and a container', () => {
      const json = structuredClone(compiled!.json);
      json.variables!.tableNames = (json.variables!.tableNames as string[]).filter((name) => name !== 'governor');
      json.variables!.containerNames = (json.variables!.containerNames as string[]).filter((name) => name !== 'ledgers');
      const found = missing(expand(json), definitions);
      expect([found.tables, found.containers]).toEqual([['governor'], ['ledgers']]);
    });

    it('a setting that a trigger names', () => {
      const json = structuredClone(compiled!.json);
      const appSettingsJson = moduleTemplate(json, 'functionApp').resources!.appSettings as { properties: Record<string, unknown> };
      delete appSettingsJson.properties.REFRESH_SCHEDULE;
      const found = missing(expand(json), definitions);
      expect([found.settings, found.triggerSettings]).toEqual([['REFRESH_SCHEDULE'], ['REFRESH_SCHEDULE']]);
    });
  });

  describe('app settings', () => {
    it.each(Object.entries(NOT_SET_IN_AZURE))('%s is a setting that may stay unset (%s)', (name) => {
      expect(SETTING_NAMES).toContain(name);
      expect(Object.keys(settings())).not.toContain(name);
      const schema = settingsSchema.shape[name as keyof typeof settingsSchema.shape];
      expect(schema.safeParse(undefined).success).toBe(true);
    });

    it('sets nothing the app does not read, apart from the platform settings', () => {
      const unknown = Object.keys(settings()).filter((name) => !(SETTING_NAMES as readonly string[]).includes(name) && !(name in PLATFORM_SETTINGS));
      expect(unknown).toEqual([]);
    });

    it('schedules the refresh at the code default unless the deployment says otherwise', () => {
      expect(settings().REFRESH_SCHEDULE).toBe(DEFAULT_REFRESH_SCHEDULE);
      const parameters = readFileSync(path.join(REPO_DIR, 'infra', 'main.parameters.json'), 'utf8');
      expect(parameters).toContain(`"\${REFRESH_SCHEDULE=${DEFAULT_REFRESH_SCHEDULE}}"`);
    });

    it('keeps the audit log for the code default (AUDIT_RETENTION_DAYS) unless the deployment says otherwise, and the code accepts the value', () => {
      expect(settings().AUDIT_RETENTION_DAYS).toBe(String(DEFAULT_AUDIT_RETENTION_DAYS));
      expect(expand(compiled!.json, { ...DEPLOYMENT_INPUTS, auditRetentionDays: 30 }).allResources().some((resource) => JSON.stringify(resource.body).includes('"AUDIT_RETENTION_DAYS":"30"'))).toBe(true);
      expect(settingsSchema.shape.AUDIT_RETENTION_DAYS.safeParse(settings().AUDIT_RETENTION_DAYS).success).toBe(true);
    });

    it('names REFRESH_SCHEDULE among the settings the triggers read (the host resolves %SETTING%)', () => {
      expect(JSON.stringify(definitions.map((definition) => ({ ...definition.options, handler: undefined })))).toContain('%REFRESH_SCHEDULE%');
    });
  });

  describe('storage names', () => {
    it('creates no queue, table or container that the code has stopped using', () => {
      const used = new Set<string>([...allQueueNames(), ...Object.values(TABLE_NAMES), ...Object.values(CONTAINER_NAMES)]);
      const extra = [QUEUES, TABLES, CONTAINERS].flatMap((type) => createdNames(main, type)).filter((name) => !used.has(name));
      // The one other container: the one Flex Consumption deploys the package from.
      expect(extra).toEqual([expect.stringMatching(/^app-package-func-[a-z0-9]+-[a-z0-9]{7}$/)]);
    });
  });

  describe('routes outside App Service Authentication', () => {
    /** Paths that must answer without a token: the health check, Brevo's webhook (it carries its own token) and the API's description. */
    const isAnonymousByDesign = (publicPath: string) =>
      publicPath === '/api/health' || publicPath === '/api/openapi.json' || publicPath.startsWith('/api/webhooks/brevo/');

    function routePrefix(): string {
      const hostJson = JSON.parse(readFileSync(path.join(REPO_DIR, 'host.json'), 'utf8')) as { extensions?: { http?: { routePrefix?: string } } };
      return hostJson.extensions?.http?.routePrefix ?? 'api';
    }

    /** The URL path of a function's route: host.json's routePrefix (possibly empty), then the route. */
    const publicPath = (route: string) => `/${[routePrefix(), route].filter((part) => part !== '').join('/')}`;

    function excludedPaths(): string[] {
      const paths = (siteConfig(main, 'authsettingsV2').body.properties as { globalValidation?: { excludedPaths?: unknown } }).globalValidation?.excludedPaths;
      return Array.isArray(paths) ? paths.filter((item): item is string => typeof item === 'string') : [];
    }

    /** App Service Authentication matches an excluded path exactly, or every path under a `/*` path. */
    const isExcluded = (requestPath: string) =>
      excludedPaths().some((excluded) => (excluded.endsWith('/*') ? requestPath.startsWith(excluded.slice(0, -1)) : requestPath === excluded));

    it('excludes exactly the API functions that are anonymous by design', () => {
      const http = definitions.flatMap((definition) => (definition.kind === 'http' && definition.name !== 'web' ? [definition] : []));
      expect(http.map(({ options }) => publicPath(options.route)).filter(isAnonymousByDesign).sort()).toEqual([
        '/api/health',
        '/api/openapi.json',
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
      const allowed = new Set<string>(['/api/health', '/api/webhooks/brevo/*', '/api/openapi.json', ...WEB_ANONYMOUS_PATHS]);
      expect(excludedPaths().filter((excluded) => !allowed.has(excluded))).toEqual([]);
      for (const page of WEB_ANONYMOUS_PATHS) expect(excludedPaths()).toContain(page);
      expect(WEB_ANONYMOUS_PATHS.filter((excluded) => excluded.startsWith('/api'))).toEqual([]);
    });
  });
});
