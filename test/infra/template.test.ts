import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { at, Expr, INFRA_DIR, isRecord, type ResourceDeclaration, Templates, type Traced, type Value } from './bicep';

/**
 * What the template must say, read from the parsed Bicep: the hosting plan, the locked-down
 * storage account and vault, least-privilege roles, authentication in front of the API, and
 * what azd needs to deploy.
 */
let templates: Templates;

beforeAll(async () => {
  templates = await Templates.load();
});

const SITE = 'Microsoft.Web/sites';
const SITE_CONFIG = 'Microsoft.Web/sites/config';

/** Settings that the Flex Consumption plan rejects: runtime, scale and content moved to `functionAppConfig`. */
const FLEX_REJECTED_SETTINGS = [
  'ENABLE_ORYX_BUILD',
  'FUNCTIONS_EXTENSION_VERSION',
  'FUNCTIONS_MAX_HTTP_CONCURRENCY',
  'FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED',
  'FUNCTIONS_WORKER_PROCESS_COUNT',
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_WORKER_RUNTIME_VERSION',
  'SCM_DO_BUILD_DURING_DEPLOYMENT',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'WEBSITE_CONTENTOVERVNET',
  'WEBSITE_CONTENTSHARE',
  'WEBSITE_DNS_SERVER',
  'WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT',
  'WEBSITE_NODE_DEFAULT_VERSION',
  'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_SKIP_CONTENTSHARE_VALIDATION',
  'WEBSITE_TIME_ZONE',
  'WEBSITE_USE_PLACEHOLDER',
  'WEBSITE_VNET_ROUTE_ALL',
];

/** Built-in roles (ids are the same in every subscription) and the one resource each is granted on. */
const APP_ROLES = [
  { role: 'Storage Blob Data Owner', id: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b', scope: 'Microsoft.Storage/storageAccounts' },
  { role: 'Storage Queue Data Contributor', id: '974c5e8b-45b9-4653-ba55-5f855dd0fb88', scope: 'Microsoft.Storage/storageAccounts' },
  { role: 'Storage Table Data Contributor', id: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3', scope: 'Microsoft.Storage/storageAccounts' },
  { role: 'Key Vault Secrets Officer', id: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7', scope: 'Microsoft.KeyVault/vaults' },
  { role: 'Monitoring Metrics Publisher', id: '3913510d-42f4-4e42-8a64-420c390055eb', scope: 'Microsoft.Insights/components' },
];

/** Segment sources (infra/app/sources.bicep): the app reads the source account; Event Grid writes to one queue. */
const SOURCE_ROLES = [
  { role: 'Storage Blob Data Reader', id: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1', scope: 'Microsoft.Storage/storageAccounts', principal: 'identity.properties.principalId', principalType: 'Microsoft.ManagedIdentity/userAssignedIdentities' },
  { role: 'Storage Queue Data Message Sender', id: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a', scope: 'Microsoft.Storage/storageAccounts/queueServices/queues', principal: 'systemTopic.identity.principalId', principalType: 'Microsoft.EventGrid/systemTopics' },
];

function configNamed(name: string): ResourceDeclaration {
  const found = templates.resources(SITE_CONFIG).filter((resource) => templates.body(resource).name === name);
  if (found.length !== 1) throw new Error(`Expected one ${SITE_CONFIG} named ${name}, found ${found.length}`);
  return found[0]!;
}

function property(resource: ResourceDeclaration, dotted: string): Value | undefined {
  return at(templates.body(resource), dotted);
}

/** Where a property's value comes from, through module parameters and outputs. */
function origins(resource: ResourceDeclaration, dotted: string): Traced[] {
  const value = property(resource, dotted);
  if (value === undefined) throw new Error(`${resource.symbol} has no ${dotted}`);
  return templates.trace(resource.file, value);
}

function texts(traced: Traced[]): string[] {
  return traced.map(({ value }) => (value instanceof Expr ? value.text : JSON.stringify(value)));
}

function appSettings(): { [key: string]: Value } {
  const settings = property(configNamed('appsettings'), 'properties');
  if (!isRecord(settings)) throw new Error('appsettings has no literal properties object');
  return settings;
}

describe('Function App', () => {
  it('runs on the Flex Consumption plan (FC1) on Linux', () => {
    const plan = templates.created('Microsoft.Web/serverfarms');
    expect(property(plan, 'sku')).toEqual({ name: 'FC1', tier: 'FlexConsumption' });
    expect(property(plan, 'properties.reserved')).toBe(true);
    const site = templates.created(SITE);
    expect(property(site, 'kind')).toBe('functionapp,linux');
    expect(texts(origins(site, 'properties.serverFarmId'))).toEqual([`${plan.symbol}.id`]);
  });

  it('runs Node 22, with instance memory and instance count as parameters of the main template', () => {
    const site = templates.created(SITE);
    expect(property(site, 'properties.functionAppConfig.runtime')).toEqual({ name: 'node', version: '22' });
    const main = templates.file('main.bicep');
    for (const [setting, param, defaultValue] of [
      ['instanceMemoryMB', 'instanceMemoryMB', 2048],
      ['maximumInstanceCount', 'maximumInstanceCount', 100],
    ] as const) {
      const traced = origins(site, `properties.functionAppConfig.scaleAndConcurrency.${setting}`);
      expect(traced.map(({ file }) => file.name)).toEqual(['main.bicep']);
      expect(traced.map(({ value }) => value)).toEqual([defaultValue]);
      expect(main.params.has(param)).toBe(true);
    }
  });

  it('runs as the user-assigned identity and deploys its package from a blob container with it', () => {
    const site = templates.created(SITE);
    expect(property(site, 'identity.type')).toBe('UserAssigned');
    expect(property(site, 'properties.functionAppConfig.deployment.storage.type')).toBe('blobContainer');
    expect(property(site, 'properties.functionAppConfig.deployment.storage.authentication.type')).toBe('UserAssignedIdentity');
    const identity = origins(site, 'properties.functionAppConfig.deployment.storage.authentication.userAssignedIdentityResourceId');
    expect(texts(identity)).toEqual(['identity.id']);
    expect(identity.map((traced) => templates.symbolType(traced))).toEqual(['Microsoft.ManagedIdentity/userAssignedIdentities']);
  });

  it('answers HTTPS only and takes its runtime from functionAppConfig, not siteConfig', () => {
    const site = templates.created(SITE);
    expect(property(site, 'properties.httpsOnly')).toBe(true);
    const siteConfig = property(site, 'properties.siteConfig');
    expect(at(siteConfig, 'linuxFxVersion')).toBeUndefined();
    // Every setting lives in the one appsettings resource, where the drift test reads them.
    expect(at(siteConfig, 'appSettings')).toBeUndefined();
  });

  it('sets none of the settings that Flex Consumption rejects', () => {
    expect(Object.keys(appSettings()).filter((name) => FLEX_REJECTED_SETTINGS.includes(name))).toEqual([]);
  });

  it('reaches the host storage with its identity, never with a connection string', () => {
    const settings = appSettings();
    const settingsFile = configNamed('appsettings').file;
    expect(settings.AzureWebJobsStorage).toBeUndefined();
    expect(settings.AzureWebJobsStorage__credential).toBe('managedidentity');
    const account = templates.trace(settingsFile, settings.AzureWebJobsStorage__accountName!);
    expect(account.map((traced) => templates.symbolType(traced))).toEqual(['Microsoft.Storage/storageAccounts']);
    for (const name of ['AzureWebJobsStorage__clientId', 'AZURE_CLIENT_ID']) {
      const clientId = templates.trace(settingsFile, settings[name]!);
      expect(texts(clientId), name).toEqual(['identity.properties.clientId']);
      expect(clientId.map((traced) => traced.file.name)).toEqual(['core/identity.bicep']);
    }
  });

  it('points the app at its vault, its own public URL and Entra-authenticated telemetry', () => {
    const settings = appSettings();
    const settingsFile = configNamed('appsettings').file;
    const vault = templates.trace(settingsFile, settings.KEY_VAULT_URL!);
    expect(texts(vault)).toEqual(['vault.properties.vaultUri']);
    expect(vault.map((traced) => templates.symbolType(traced))).toEqual(['Microsoft.KeyVault/vaults']);
    const publicUrl = settings.PUBLIC_BASE_URL;
    expect(publicUrl instanceof Expr ? publicUrl.parts[0] : publicUrl).toBe('https://');
    expect(publicUrl instanceof Expr ? publicUrl.text : '').toContain('.properties.defaultHostName');
    expect(texts(templates.trace(settingsFile, settings.APPLICATIONINSIGHTS_CONNECTION_STRING!))).toEqual([
      'applicationInsights.properties.ConnectionString',
    ]);
    const authentication = settings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING;
    expect(authentication instanceof Expr ? authentication.text : authentication).toMatch(/^'ClientId=\$\{identityClientId\};Authorization=AAD'$/);
  });
});

describe('storage account', () => {
  it('accepts Entra identities only, over TLS 1.2 or later, with no public blobs', () => {
    const storage = templates.created('Microsoft.Storage/storageAccounts');
    expect(property(storage, 'properties.allowSharedKeyAccess')).toBe(false);
    expect(property(storage, 'properties.minimumTlsVersion')).toBe('TLS1_2');
    expect(property(storage, 'properties.allowBlobPublicAccess')).toBe(false);
    expect(property(storage, 'properties.supportsHttpsTrafficOnly')).toBe(true);
  });
});

describe('Key Vault', () => {
  it('authorizes with Azure RBAC and keeps deleted secrets recoverable', () => {
    const vault = templates.created('Microsoft.KeyVault/vaults');
    expect(property(vault, 'properties.enableRbacAuthorization')).toBe(true);
    expect(property(vault, 'properties.enableSoftDelete')).toBe(true);
    expect(property(vault, 'properties.enablePurgeProtection')).toBe(true);
    expect(property(vault, 'properties.accessPolicies')).toBeUndefined();
  });
});

describe('monitoring', () => {
  it('keeps Application Insights data in a Log Analytics workspace, with local authentication off', () => {
    const insights = templates.created('Microsoft.Insights/components');
    const workspace = templates.created('Microsoft.OperationalInsights/workspaces');
    expect(texts(origins(insights, 'properties.WorkspaceResourceId'))).toEqual([`${workspace.symbol}.id`]);
    expect(property(insights, 'properties.DisableLocalAuth')).toBe(true);
    expect(property(workspace, 'properties.features.disableLocalAuth')).toBe(true);
  });
});

describe('role assignments', () => {
  const assignments = () =>
    templates.resources('Microsoft.Authorization/roleAssignments').map((resource) => {
      const definition = property(resource, 'properties.roleDefinitionId');
      const scope = property(resource, 'scope');
      return {
        resource,
        roleId: definition instanceof Expr && definition.name === 'subscriptionResourceId' ? definition.parts[1] : definition,
        scope: scope instanceof Expr ? templates.symbolType({ file: resource.file, value: scope }) : undefined,
      };
    });

  it.each(APP_ROLES)('grants the app identity $role on the $scope', ({ id, scope }) => {
    const granted = assignments().filter((assignment) => assignment.roleId === id);
    expect(granted.map((assignment) => assignment.scope)).toEqual([scope]);
    const { resource } = granted[0]!;
    expect(property(resource, 'properties.principalType')).toBe('ServicePrincipal');
    const principal = origins(resource, 'properties.principalId');
    expect(texts(principal)).toEqual(['identity.properties.principalId']);
    expect(principal.map((traced) => templates.symbolType(traced))).toEqual(['Microsoft.ManagedIdentity/userAssignedIdentities']);
  });

  it.each(SOURCE_ROLES)('grants $role on the $scope for segment sources, to $principal', ({ id, scope, principal, principalType }) => {
    const granted = assignments().filter((assignment) => assignment.roleId === id);
    expect(granted.map((assignment) => assignment.scope)).toEqual([scope]);
    const traced = origins(granted[0]!.resource, 'properties.principalId');
    expect(texts(traced)).toEqual([principal]);
    expect(traced.map((item) => templates.symbolType(item))).toEqual([principalType]);
  });

  it('grants no other role (least privilege)', () => {
    expect(assignments().map((assignment) => assignment.roleId).sort()).toEqual([...APP_ROLES, ...SOURCE_ROLES].map((role) => role.id).sort());
  });

  it('names each assignment after its scope, principal and role, so a redeployment finds it', () => {
    for (const { resource } of assignments()) {
      const name = property(resource, 'name');
      expect(name instanceof Expr && name.name === 'guid' ? name.parts.length : 0, resource.symbol).toBe(3);
    }
  });
});

describe('segment sources', () => {
  it('subscribes the app\'s source-events queue to BlobCreated events of descriptions, with the topic\'s own identity', () => {
    const subscription = templates.created('Microsoft.EventGrid/systemTopics/eventSubscriptions');
    expect(property(subscription, 'properties.filter.includedEventTypes')).toEqual(['Microsoft.Storage.BlobCreated']);
    expect(property(subscription, 'properties.eventDeliverySchema')).toBe('EventGridSchema');
    expect(property(subscription, 'properties.deliveryWithResourceIdentity.identity.type')).toBe('SystemAssigned');
    expect(property(subscription, 'properties.deliveryWithResourceIdentity.destination.endpointType')).toBe('StorageQueue');
    const queue = origins(subscription, 'properties.deliveryWithResourceIdentity.destination.properties.queueName');
    expect(queue.map(({ value }) => value)).toEqual(['source-events']);
    const filters = property(subscription, 'properties.filter.advancedFilters');
    const bySubject = Array.isArray(filters) ? filters.find((filter) => at(filter, 'key') === 'subject') : undefined;
    const suffixes = templates.trace(subscription.file, at(bySubject, 'values')!).flatMap(({ value }) => (Array.isArray(value) ? value : []));
    expect(suffixes).toContain('/model.json');
    expect(suffixes).toContain('.manifest.cdm.json');
  });

  it('is deployed only when the main template names a source account', () => {
    const main = templates.file('main.bicep');
    expect(main.params.get('sourceStorageAccountName')?.defaultValue?.text).toBe("''");
  });
});

describe('App Service Authentication', () => {
  const auth = () => configNamed('authsettingsV2');

  it('requires an Entra ID token on every request and answers 401 without one', () => {
    expect(property(auth(), 'properties.platform.enabled')).toBe(true);
    expect(property(auth(), 'properties.globalValidation.requireAuthentication')).toBe(true);
    expect(property(auth(), 'properties.globalValidation.unauthenticatedClientAction')).toBe('Return401');
    expect(property(auth(), 'properties.httpSettings.requireHttps')).toBe(true);
    expect(property(auth(), 'properties.identityProviders.azureActiveDirectory.enabled')).toBe(true);
  });

  it('accepts tokens for the app registration given to the main template', () => {
    const clientId = origins(auth(), 'properties.identityProviders.azureActiveDirectory.registration.clientId');
    expect(clientId.map(({ file, value }) => [file.name, value instanceof Expr ? value.kind : value])).toEqual([['main.bicep', 'param']]);
    const entraClientId = templates.file('main.bicep').params.get('entraClientId');
    // Required, so that a deployment without an app registration fails instead of leaving the API open.
    expect(entraClientId?.defaultValue).toBeUndefined();
    expect(property(auth(), 'properties.identityProviders.azureActiveDirectory.validation.allowedAudiences')).toHaveLength(2);
  });

  it('lets through only the health check and the Brevo webhook', () => {
    expect(property(auth(), 'properties.globalValidation.excludedPaths')).toEqual(['/api/health', '/api/webhooks/brevo/*']);
  });
});

describe('outputs', () => {
  it.each([
    { output: 'SERVICE_API_URI', origin: "'https://${functionApp.properties.defaultHostName}'" },
    { output: 'AZURE_KEY_VAULT_URI', origin: 'vault.properties.vaultUri' },
    { output: 'AZURE_IDENTITY_CLIENT_ID', origin: 'identity.properties.clientId' },
  ])('main.bicep outputs $output', ({ output, origin }) => {
    const main = templates.file('main.bicep');
    const expression = main.outputs.get(output);
    expect(expression, `main.bicep has no output ${output}`).toBeDefined();
    expect(texts(templates.trace(main, templates.evaluate(main, expression!)))).toEqual([origin]);
  });
});

describe('azd', () => {
  const azureYaml = () => readFileSync(path.join(INFRA_DIR, '..', 'azure.yaml'), 'utf8');

  it('deploys the azure.yaml service to the Function App that carries its azd-service-name tag', () => {
    const service = /^services:\n {2}([a-z0-9-]+):\n((?: {4}.*\n)+)/m.exec(azureYaml());
    expect(service, 'azure.yaml names one service').not.toBeNull();
    expect(service![2]).toMatch(/^ {4}host: function$/m);
    const tags = property(templates.created(SITE), 'tags');
    const serviceTag = tags instanceof Expr && tags.name === 'union' ? at(tags.parts[1], 'azd-service-name') : undefined;
    const site = templates.created(SITE);
    expect(serviceTag === undefined ? [] : templates.resolve(site.file, serviceTag)).toEqual([service![1]]);
  });

  it('gives main.bicep every parameter that has no default from main.parameters.json', () => {
    const parameters = JSON.parse(readFileSync(path.join(INFRA_DIR, 'main.parameters.json'), 'utf8')) as {
      parameters: Record<string, { value: unknown }>;
    };
    const main = templates.file('main.bicep');
    const required = [...main.params.values()].filter((param) => !param.defaultValue).map((param) => param.name);
    expect(required).toContain('entraClientId');
    expect(required.filter((name) => !(name in parameters.parameters))).toEqual([]);
    expect(Object.keys(parameters.parameters).filter((name) => !main.params.has(name))).toEqual([]);
  });
});
