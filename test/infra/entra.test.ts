import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ROLES } from '../../src/domain/policy';
import { compiledTemplate, INFRA_DIR, REPO_DIR, siteConfig } from './compiled';

/**
 * The Entra app registration that the azd hook (infra/hooks/entra-app.sh) applies with Microsoft
 * Graph: its app roles are the roles the code checks, its tokens are the ones App Service
 * Authentication accepts, and the hook creates it once, then finds it again and changes nothing
 * twice. The hook runs here against a stand-in Azure CLI (fake-azure-cli.mjs).
 */
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const AZURE_CLI_APP_ID = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
const HOOK = path.join(INFRA_DIR, 'hooks', 'entra-app.sh');

const scopeSchema = z.object({ id: z.string().regex(GUID), value: z.string(), type: z.literal('User'), isEnabled: z.literal(true) });
const apiSchema = z.object({
  requestedAccessTokenVersion: z.literal(2),
  oauth2PermissionScopes: z.array(scopeSchema).min(1),
  preAuthorizedApplications: z.array(z.object({ appId: z.string().regex(GUID), delegatedPermissionIds: z.array(z.string()) })).optional(),
});
const registrationSchema = z.object({
  api: apiSchema,
  appRoles: z
    .array(
      z.object({
        id: z.string().regex(GUID),
        value: z.string(),
        displayName: z.string(),
        description: z.string().min(1),
        allowedMemberTypes: z.array(z.enum(['User', 'Application'])),
        isEnabled: z.literal(true),
      }),
    )
    .optional(),
});

const readRegistration = (name: string) => registrationSchema.parse(JSON.parse(readFileSync(path.join(INFRA_DIR, 'entra', name), 'utf8')));
const adminRoleId = () => readRegistration('app-registration.json').appRoles!.find((role) => role.value === 'Admin')!.id;

describe('Entra app registration', () => {
  it('defines an app role for exactly the roles the code authorizes', () => {
    const roles = readRegistration('app-registration.json').appRoles ?? [];
    expect(roles.map((role) => role.value).sort()).toEqual([...ROLES].sort());
    expect(new Set(roles.map((role) => role.id)).size).toBe(roles.length);
    for (const role of roles) expect(role.allowedMemberTypes, role.value).toContain('User');
  });

  it('pre-authorizes the Azure CLI for a scope it defines, without dropping that scope', () => {
    const { api } = readRegistration('app-registration.json');
    const preauthorized = readRegistration('preauthorize-azure-cli.json').api;
    expect(preauthorized.oauth2PermissionScopes).toEqual(api.oauth2PermissionScopes);
    const scopeIds = api.oauth2PermissionScopes.map((scope) => scope.id);
    expect(preauthorized.preAuthorizedApplications).toEqual([{ appId: AZURE_CLI_APP_ID, delegatedPermissionIds: scopeIds }]);
  });
});

const compiled = await compiledTemplate();

describe.skipIf(!compiled)('App Service Authentication and the registration', () => {
  it('accepts the v2 tokens the registration issues: from the v2 issuer, for the bare client id', () => {
    const entra = (siteConfig(compiled!.main, 'authsettingsV2').body.properties as { identityProviders: { azureActiveDirectory: unknown } })
      .identityProviders.azureActiveDirectory;
    const { registration, validation } = z
      .object({ registration: z.object({ clientId: z.string(), openIdIssuer: z.string() }), validation: z.object({ allowedAudiences: z.array(z.string()) }) })
      .parse(entra);
    expect(registration.openIdIssuer).toMatch(/^https:\/\/login\.microsoftonline\.com\/[0-9a-f-]{36}\/v2\.0$/);
    // v2 access tokens carry the client id as audience; v1 tokens carry the identifier URI.
    expect(validation.allowedAudiences).toEqual([`api://${registration.clientId}`, registration.clientId]);
  });
});

interface FakeState {
  tenantId: string;
  user: { type: string; id: string; name: string };
  apps: { appId: string; displayName: string; identifierUris: string[]; api: z.infer<typeof apiSchema> | object; appRoles: { id: string; value: string }[] }[];
  servicePrincipals: { id: string; appId: string; appRoleAssignmentRequired: boolean }[];
  assignments: { principalId: string; resourceId: string; appRoleId: string }[];
  azdEnv: Record<string, string>;
  calls: string[][];
}

const run = promisify(execFile);

/** A folder with `az` and `azd` that answer from a state file, and the file. */
function fakeAzure(initial: Partial<FakeState> = {}) {
  const directory = mkdtempSync(path.join(tmpdir(), 'segment-export-hook-'));
  const stateFile = path.join(directory, 'state.json');
  const state: FakeState = {
    tenantId: '00000000-0000-4000-8000-0000000000bb',
    user: { type: 'user', id: '00000000-0000-4000-8000-0000000000cc', name: 'deployer@contoso.example' },
    apps: [],
    servicePrincipals: [],
    assignments: [],
    azdEnv: {},
    calls: [],
    ...initial,
  };
  writeFileSync(stateFile, JSON.stringify(state));
  const fake = path.join(REPO_DIR, 'test', 'infra', 'fake-azure-cli.mjs');
  for (const tool of ['az', 'azd']) {
    writeFileSync(path.join(directory, tool), `#!/bin/sh\nexec "${process.execPath}" "${fake}" ${tool} "$@"\n`);
    chmodSync(path.join(directory, tool), 0o755);
  }
  return {
    read: () => JSON.parse(readFileSync(stateFile, 'utf8')) as FakeState,
    /** Runs the hook the way azd does: with the azd environment's values in the process environment. */
    hook: async (env: Record<string, string> = {}) => {
      const { stdout } = await run('sh', [HOOK], {
        env: { PATH: `${directory}:/usr/bin:/bin`, FAKE_AZURE_STATE: stateFile, AZURE_ENV_NAME: 'prod', ENTRA_RETRY_SECONDS: '0', ...env },
      });
      return stdout;
    },
  };
}

describe('azd hook: the app registration', () => {
  it('runs before azd provisions the template, which needs ENTRA_CLIENT_ID', () => {
    const azureYaml = readFileSync(path.join(REPO_DIR, 'azure.yaml'), 'utf8');
    expect(azureYaml).toMatch(/^hooks:\n(?: {2}#.*\n)* {2}preprovision:\n {4}shell: sh\n {4}run: infra\/hooks\/entra-app\.sh\n/m);
    expect(readFileSync(path.join(INFRA_DIR, 'main.parameters.json'), 'utf8')).toContain('"value": "${ENTRA_CLIENT_ID}"');
  });

  it('creates the registration with its roles, scope and enterprise application, and makes the deployer Admin', async () => {
    const azure = fakeAzure();
    await azure.hook();
    const state = azure.read();
    expect(state.apps).toHaveLength(1);
    const [app] = state.apps;
    const registration = readRegistration('app-registration.json');
    expect(app).toMatchObject({
      displayName: 'segment-export-prod',
      identifierUris: [`api://${app!.appId}`],
      appRoles: registration.appRoles,
      api: readRegistration('preauthorize-azure-cli.json').api,
    });
    expect(state.servicePrincipals).toEqual([{ id: expect.stringMatching(GUID), appId: app!.appId, appRoleAssignmentRequired: true }]);
    expect(state.assignments).toEqual([{ principalId: state.user.id, resourceId: state.servicePrincipals[0]!.id, appRoleId: adminRoleId() }]);
    expect(state.azdEnv).toEqual({ ENTRA_CLIENT_ID: app!.appId });
  });

  it('finds what it made on the next run and creates nothing twice', async () => {
    const azure = fakeAzure();
    await azure.hook();
    const first = azure.read();
    // azd passes the environment's values, ENTRA_CLIENT_ID among them, to the next run.
    await azure.hook({ ENTRA_CLIENT_ID: first.azdEnv.ENTRA_CLIENT_ID! });
    // A fresh environment of the same name finds the registration by its name.
    await azure.hook();
    const state = azure.read();
    expect(state.apps.map((app) => app.appId)).toEqual([first.apps[0]!.appId]);
    expect(state.servicePrincipals).toEqual(first.servicePrincipals);
    expect(state.assignments).toEqual(first.assignments);
    const creations = state.calls.filter((call) => call.slice(1, 4).join(' ').endsWith(' create') || call.includes('POST'));
    expect(creations.map((call) => call.slice(1, 4).join(' '))).toEqual(['ad app create', 'ad sp create', 'rest --method POST']);
  });

  it('makes a deploying service principal Admin when a pipeline runs azd up', async () => {
    const pipeline = { id: '00000000-0000-4000-8000-0000000000dd', appId: '00000000-0000-4000-8000-0000000000ee', appRoleAssignmentRequired: false };
    const azure = fakeAzure({ user: { type: 'servicePrincipal', id: '', name: pipeline.appId }, servicePrincipals: [pipeline] });
    await azure.hook();
    const state = azure.read();
    const appSp = state.servicePrincipals.find((sp) => sp.appId === state.apps[0]!.appId)!;
    expect(state.assignments).toEqual([{ principalId: pipeline.id, resourceId: appSp.id, appRoleId: adminRoleId() }]);
  });

  it('leaves a registration that an administrator made alone when told to (ENTRA_MANAGE_APP=false)', async () => {
    const azure = fakeAzure();
    const stdout = await azure.hook({ ENTRA_MANAGE_APP: 'false', ENTRA_CLIENT_ID: '11111111-2222-4333-8444-555555555555' });
    expect(stdout).toContain('as it is');
    expect(azure.read().calls).toEqual([]);
  });

  it('stops, before any change, when the Azure CLI is signed in to another tenant than the environment', async () => {
    const azure = fakeAzure();
    await expect(azure.hook({ AZURE_TENANT_ID: '00000000-0000-4000-8000-0000000000ff' })).rejects.toThrow(/az login --tenant 00000000-0000-4000-8000-0000000000ff/);
    expect(azure.read().calls.map((call) => call.slice(1, 3).join(' '))).toEqual(['account show']);
  });
});
