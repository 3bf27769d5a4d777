import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Computed, DEPLOYMENT_INPUTS, type Resource, Runtime, type Value } from './arm';
import { allCreated, APP_ROLES, appSettings, compiledTemplate, created, expand, REPO_DIR, roleAssignments, siteConfig } from './compiled';

/**
 * What the compiled template deploys, read as Azure Resource Manager would expand it: the hosting
 * plan, the locked-down storage account and vault and their logs, least-privilege roles,
 * authentication in front of the API before the app starts, and what azd needs.
 */
const compiled = await compiledTemplate();

const SITE = 'Microsoft.Web/sites';

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

const at = (value: Value | undefined, dotted: string): Value | undefined =>
  dotted.split('.').reduce<Value | undefined>((current, key) => {
    if (current === null || typeof current !== 'object' || Array.isArray(current) || current instanceof Runtime || current instanceof Computed) return undefined;
    return current[key];
  }, value);

const property = (resource: Resource, dotted: string) => at(resource.body, dotted);
const runtime = (resource: Resource, ...path: string[]) => new Runtime(resource.id, path);

describe.skipIf(!compiled)('compiled template', () => {
  const main = compiled!.main;
  const site = () => created(main, SITE);
  const storage = () => created(main, 'Microsoft.Storage/storageAccounts');
  const vault = () => created(main, 'Microsoft.KeyVault/vaults');
  const identity = () => created(main, 'Microsoft.ManagedIdentity/userAssignedIdentities');
  const workspace = () => created(main, 'Microsoft.OperationalInsights/workspaces');
  const insights = () => created(main, 'Microsoft.Insights/components');

  describe('Function App', () => {
    it('runs on the Flex Consumption plan (FC1) on Linux', () => {
      const plan = created(main, 'Microsoft.Web/serverfarms');
      expect(property(plan, 'sku')).toEqual({ name: 'FC1', tier: 'FlexConsumption' });
      expect(property(plan, 'properties.reserved')).toBe(true);
      expect(property(site(), 'kind')).toBe('functionapp,linux');
      expect(property(site(), 'properties.serverFarmId')).toBe(plan.id);
    });

    it('runs Node 22, with the instance memory and instance count that the main template is given', () => {
      expect(property(site(), 'properties.functionAppConfig.runtime')).toEqual({ name: 'node', version: '22' });
      expect(property(site(), 'properties.functionAppConfig.scaleAndConcurrency')).toEqual({ instanceMemoryMB: 2048, maximumInstanceCount: 100 });
      const other = expand(compiled!.json, { ...DEPLOYMENT_INPUTS, instanceMemoryMB: 4096, maximumInstanceCount: 7 });
      expect(property(created(other, SITE), 'properties.functionAppConfig.scaleAndConcurrency')).toEqual({ instanceMemoryMB: 4096, maximumInstanceCount: 7 });
    });

    it('runs as the user-assigned identity and deploys its package from a blob container with it', () => {
      expect(property(site(), 'identity.type')).toBe('UserAssigned');
      expect(Object.keys(property(site(), 'identity.userAssignedIdentities') as object)).toEqual([identity().id]);
      const packageStorage = property(site(), 'properties.functionAppConfig.deployment.storage');
      expect(at(packageStorage, 'type')).toBe('blobContainer');
      expect(at(packageStorage, 'authentication')).toEqual({ type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identity().id });
      const container = allCreated(main, 'Microsoft.Storage/storageAccounts/blobServices/containers').find((candidate) =>
        String(candidate.name).includes('/app-package-'),
      );
      expect(container, 'the package container').toBeDefined();
      expect(at(packageStorage, 'value')).toEqual(
        new Computed('format', ['{0}{1}', runtime(storage(), 'properties', 'primaryEndpoints', 'blob'), String(container!.name).split('/').at(-1)!]),
      );
    });

    it('answers HTTPS only, over TLS 1.2, and takes its runtime from functionAppConfig, not siteConfig', () => {
      expect(property(site(), 'properties.httpsOnly')).toBe(true);
      expect(property(site(), 'properties.siteConfig.minTlsVersion')).toBe('1.2');
      expect(property(site(), 'properties.siteConfig.ftpsState')).toBe('Disabled');
      expect(property(site(), 'properties.siteConfig.linuxFxVersion')).toBeUndefined();
      // Every setting lives in the one appsettings resource, where the drift test reads them.
      expect(property(site(), 'properties.siteConfig.appSettings')).toBeUndefined();
    });

    it.each(['scm', 'ftp'])('accepts no basic (user name and password) credentials for %s', (kind) => {
      const policies = allCreated(main, 'Microsoft.Web/sites/basicPublishingCredentialsPolicies').filter(
        (policy) => policy.name === `${String(site().name)}/${kind}`,
      );
      expect(policies.map((policy) => property(policy, 'properties'))).toEqual([{ allow: false }]);
    });

    it('sets none of the settings that Flex Consumption rejects', () => {
      expect(Object.keys(appSettings(main).body).filter((name) => FLEX_REJECTED_SETTINGS.includes(name))).toEqual([]);
    });

    it('reaches the host storage with its identity, never with a connection string', () => {
      const settings = appSettings(main).body;
      expect(settings.AzureWebJobsStorage).toBeUndefined();
      expect(settings.AzureWebJobsStorage__credential).toBe('managedidentity');
      expect(settings.AzureWebJobsStorage__accountName).toBe(storage().name);
      expect(settings.AzureWebJobsStorage__clientId).toEqual(runtime(identity(), 'properties', 'clientId'));
      expect(settings.AZURE_CLIENT_ID).toEqual(runtime(identity(), 'properties', 'clientId'));
    });

    it('points the app at its vault, its own public URL and Entra-authenticated telemetry', () => {
      const settings = appSettings(main).body;
      expect(settings.KEY_VAULT_URL).toEqual(runtime(vault(), 'properties', 'vaultUri'));
      expect(settings.PUBLIC_BASE_URL).toEqual(new Computed('format', ['https://{0}', runtime(site(), 'properties', 'defaultHostName')]));
      expect(settings.APPLICATIONINSIGHTS_CONNECTION_STRING).toEqual(runtime(insights(), 'properties', 'ConnectionString'));
      expect(settings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING).toEqual(
        new Computed('format', ['ClientId={0};Authorization=AAD', runtime(identity(), 'properties', 'clientId')]),
      );
    });

    it('gets the settings that start its host only once App Service Authentication guards it', () => {
      const auth = siteConfig(main, 'authsettingsV2');
      const settings = appSettings(main).resource;
      // The auth settings come from a module: the settings wait for that whole deployment.
      const authDeployment = settings.deployment.resources.find(
        (resource) => resource.type === 'Microsoft.Resources/deployments' && resource.dependsOn.includes(site().id),
      );
      expect(authDeployment, 'a module that waits for the site').toBeDefined();
      expect(settings.deployment.module(String(authDeployment!.name)).resources).toContain(auth);
      expect(settings.dependsOn).toContain(authDeployment!.id);
    });
  });

  describe('storage account', () => {
    it('accepts Entra identities only, over TLS 1.2 or later, with no public blobs', () => {
      expect(property(storage(), 'properties.allowSharedKeyAccess')).toBe(false);
      expect(property(storage(), 'properties.minimumTlsVersion')).toBe('TLS1_2');
      expect(property(storage(), 'properties.allowBlobPublicAccess')).toBe(false);
      expect(property(storage(), 'properties.supportsHttpsTrafficOnly')).toBe(true);
    });

    it.each(['blobServices', 'queueServices', 'tableServices'])('sends the logs and transaction metrics of its %s to the workspace', (service) => {
      const serviceId = `${storage().id}/${service}/default`;
      const settings = allCreated(main, 'Microsoft.Insights/diagnosticSettings').filter((setting) => setting.id.startsWith(`${serviceId}/providers/`));
      expect(settings).toHaveLength(1);
      expect(property(settings[0]!, 'properties.workspaceId')).toBe(workspace().id);
      expect(property(settings[0]!, 'properties.logs')).toEqual([{ categoryGroup: 'allLogs', enabled: true }]);
      expect(property(settings[0]!, 'properties.metrics')).toEqual([{ category: 'Transaction', enabled: true }]);
    });
  });

  describe('Key Vault', () => {
    it('authorizes with Azure RBAC and keeps deleted secrets recoverable', () => {
      expect(property(vault(), 'properties.enableRbacAuthorization')).toBe(true);
      expect(property(vault(), 'properties.enableSoftDelete')).toBe(true);
      expect(property(vault(), 'properties.enablePurgeProtection')).toBe(true);
      expect(property(vault(), 'properties.accessPolicies')).toBeUndefined();
    });

    it('sends its audit log (who read or wrote which secret) and metrics to the workspace', () => {
      const settings = allCreated(main, 'Microsoft.Insights/diagnosticSettings').filter((setting) => setting.id.startsWith(`${vault().id}/providers/`));
      expect(settings).toHaveLength(1);
      expect(property(settings[0]!, 'properties.workspaceId')).toBe(workspace().id);
      expect(property(settings[0]!, 'properties.logs')).toEqual([{ categoryGroup: 'allLogs', enabled: true }]);
      expect(property(settings[0]!, 'properties.metrics')).toEqual([{ category: 'AllMetrics', enabled: true }]);
    });
  });

  describe('monitoring', () => {
    it('keeps Application Insights data in a Log Analytics workspace, with local authentication off', () => {
      expect(property(insights(), 'properties.WorkspaceResourceId')).toBe(workspace().id);
      expect(property(insights(), 'properties.DisableLocalAuth')).toBe(true);
      expect(property(workspace(), 'properties.features.disableLocalAuth')).toBe(true);
    });
  });

  describe('role assignments', () => {
    it.each(APP_ROLES)('grants the app identity $role on the $scope', ({ id, scope }) => {
      const granted = roleAssignments(main).filter((assignment) => assignment.roleId === id);
      expect(granted.map((assignment) => assignment.scope?.type)).toEqual([scope]);
      expect(property(granted[0]!.resource, 'properties.principalType')).toBe('ServicePrincipal');
      expect(property(granted[0]!.resource, 'properties.principalId')).toEqual(runtime(identity(), 'properties', 'principalId'));
    });

    it('grants no other role (least privilege)', () => {
      expect(roleAssignments(main).map((assignment) => assignment.roleId).sort()).toEqual(APP_ROLES.map((role) => role.id).sort());
    });

    it('names each assignment after its scope, principal and role, so a redeployment finds it', () => {
      for (const { resource, roleId, scope } of roleAssignments(main)) {
        expect(resource.name).toEqual(new Computed('guid', [scope!.id, runtime(identity(), 'properties', 'principalId'), roleId!]));
      }
    });

    it('is granted before the app starts', () => {
      const rbac = main.resources.find((resource) => resource.name === 'rbac');
      const app = main.resources.find((resource) => resource.name === 'functionApp');
      expect(app?.dependsOn).toContain(rbac?.id);
    });
  });

  describe('App Service Authentication', () => {
    const auth = () => siteConfig(main, 'authsettingsV2');

    it('guards the Function App, requires an Entra ID token on every request and answers 401 without one', () => {
      expect(auth().name).toBe(`${String(site().name)}/authsettingsV2`);
      expect(property(auth(), 'properties.platform.enabled')).toBe(true);
      expect(property(auth(), 'properties.globalValidation.requireAuthentication')).toBe(true);
      expect(property(auth(), 'properties.globalValidation.unauthenticatedClientAction')).toBe('Return401');
      expect(property(auth(), 'properties.httpSettings.requireHttps')).toBe(true);
      expect(property(auth(), 'properties.identityProviders.azureActiveDirectory.enabled')).toBe(true);
    });

    it('accepts tokens for the app registration that the main template is given, and nothing deploys without one', () => {
      const clientId = DEPLOYMENT_INPUTS.entraClientId;
      expect(property(auth(), 'properties.identityProviders.azureActiveDirectory.registration.clientId')).toBe(clientId);
      expect(property(auth(), 'properties.identityProviders.azureActiveDirectory.validation.allowedAudiences')).toEqual([`api://${clientId}`, clientId]);
      // Required, so that a deployment without an app registration fails instead of leaving the API open.
      const declared = compiled!.json.parameters?.entraClientId;
      expect(declared?.defaultValue).toBeUndefined();
      expect(declared).toMatchObject({ minLength: 36, maxLength: 36 });
    });

    it('lets through only the health check, the Brevo webhook, the OpenAPI description and the web page', () => {
      expect(property(auth(), 'properties.globalValidation.excludedPaths')).toEqual(['/api/health', '/api/webhooks/brevo/*', '/api/openapi.json', '/', '/index.html', '/assets/*']);
    });
  });

  describe('outputs', () => {
    it('gives azd the app URL, the vault and the identity', () => {
      const outputs = main.outputs();
      expect(outputs.SERVICE_API_URI).toEqual(new Computed('format', ['https://{0}', runtime(site(), 'properties', 'defaultHostName')]));
      expect(outputs.AZURE_KEY_VAULT_URI).toEqual(runtime(vault(), 'properties', 'vaultUri'));
      expect(outputs.AZURE_IDENTITY_CLIENT_ID).toEqual(runtime(identity(), 'properties', 'clientId'));
      expect(outputs.AZURE_FUNCTION_APP_NAME).toBe(site().name);
      expect(outputs.AZURE_RESOURCE_GROUP).toBe(`rg-${DEPLOYMENT_INPUTS.environmentName}`);
    });
  });

  describe('azd', () => {
    const azureYaml = () => readFileSync(path.join(REPO_DIR, 'azure.yaml'), 'utf8');

    it('deploys the azure.yaml service to the Function App that carries its azd-service-name tag', () => {
      const service = /^services:\n {2}([a-z0-9-]+):\n((?: {4}.*\n)+)/m.exec(azureYaml());
      expect(service, 'azure.yaml names one service').not.toBeNull();
      expect(service![2]).toMatch(/^ {4}host: function$/m);
      expect(property(site(), 'tags')).toEqual({ 'azd-env-name': DEPLOYMENT_INPUTS.environmentName, 'azd-service-name': service![1] });
    });

    it('tags every resource group and resource it creates with the environment', () => {
      const untagged = main
        .allResources()
        .filter((resource) => !resource.existing && 'location' in resource.body)
        .filter((resource) => at(resource.body, 'tags.azd-env-name') !== DEPLOYMENT_INPUTS.environmentName);
      expect(untagged.map((resource) => resource.id)).toEqual([]);
    });

    it('gives main.bicep every parameter that has no default from main.parameters.json', () => {
      const parameters = z
        .object({ parameters: z.record(z.string(), z.object({ value: z.unknown() })) })
        .parse(JSON.parse(readFileSync(path.join(REPO_DIR, 'infra', 'main.parameters.json'), 'utf8'))).parameters;
      const declared = compiled!.json.parameters ?? {};
      const required = Object.entries(declared).filter(([, parameter]) => parameter.defaultValue === undefined).map(([name]) => name);
      expect(required).toContain('entraClientId');
      expect(required.filter((name) => !(name in parameters))).toEqual([]);
      expect(Object.keys(parameters).filter((name) => !(name in declared))).toEqual([]);
    });
  });
});
