import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ROLES } from '../../src/domain/policy';
import { at, Expr, INFRA_DIR, Templates } from './bicep';

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

let templates: Templates;

beforeAll(async () => {
  templates = await Templates.load();
});

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

  it('issues v2 tokens, which App Service Authentication accepts from the v2 issuer for the bare client id', () => {
    const auth = templates.resources('Microsoft.Web/sites/config').find((resource) => templates.body(resource).name === 'authsettingsV2')!;
    const body = templates.body(auth);
    const issuer = at(body, 'properties.identityProviders.azureActiveDirectory.registration.openIdIssuer');
    expect(issuer instanceof Expr ? issuer.text : issuer).toMatch(/\/v2\.0'$/);
    const audiences = at(body, 'properties.identityProviders.azureActiveDirectory.validation.allowedAudiences');
    const texts = Array.isArray(audiences) ? audiences.map((audience) => (audience instanceof Expr ? audience.text : audience)) : [];
    // v2 access tokens carry the client id as audience; v1 tokens carry the identifier URI.
    expect(texts).toEqual(["'api://${entraClientId}'", 'entraClientId']);
  });
});
