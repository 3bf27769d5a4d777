import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ROLES } from '../../src/api/auth';
import { compiledTemplate, INFRA_DIR, siteConfig } from './compiled';

/**
 * The Entra app registration that docs/deployment.md applies with Microsoft Graph: its app roles
 * are the roles the code checks, and its tokens are the ones App Service Authentication accepts.
 */
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const AZURE_CLI_APP_ID = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';

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
