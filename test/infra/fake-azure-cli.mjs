// A stand-in for the Azure CLI (`az`) and the Azure Developer CLI (`azd`) that answers exactly the
// calls infra/hooks/entra-app.sh makes, from a JSON file of directory state (FAKE_AZURE_STATE), and
// records every call there. test/infra/entra.test.ts runs the hook against it. Anything else fails.
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

const [tool, ...args] = process.argv.slice(2);
const file = process.env.FAKE_AZURE_STATE;
const state = JSON.parse(readFileSync(file, 'utf8'));
state.calls.push([tool, ...args]);

const option = (name) => {
  const index = args.indexOf(name);
  return index < 0 ? undefined : args[index + 1];
};
const firstOption = args.findIndex((arg) => arg.startsWith('-'));
const command = (firstOption < 0 ? args : args.slice(0, firstOption)).join(' ');
const out = (value) => process.stdout.write(`${value ?? ''}\n`);
const fail = (message) => {
  writeFileSync(file, JSON.stringify(state, null, 2));
  process.stderr.write(`fake ${tool}: ${message}\n`);
  process.exit(1);
};
const app = (appId) => state.apps.find((candidate) => candidate.appId === appId);

function az() {
  const query = option('--query');
  if (command.startsWith('account show')) {
    if (query === 'tenantId') return out(state.tenantId);
    if (query === 'user.type') return out(state.user.type);
    if (query === 'user.name') return out(state.user.name);
  }
  if (command.startsWith('cloud show') && query === 'endpoints.microsoftGraphResourceId') return out('https://graph.microsoft.com/');
  if (command.startsWith('ad signed-in-user show') && query === 'id') return out(state.user.id);
  if (command === 'ad app show') {
    const found = app(option('--id'));
    if (!found) fail(`no application ${option('--id')}`);
    if (query === 'appId') return out(found.appId);
    if (query === "appRoles[?value=='Admin'].id | [0]") return out(found.appRoles.find((role) => role.value === 'Admin')?.id);
  }
  if (command === 'ad app list' && query === '[].appId') {
    return out(state.apps.filter((candidate) => candidate.displayName === option('--display-name')).map((candidate) => candidate.appId).join('\n'));
  }
  if (command === 'ad app create' && query === 'appId') {
    const created = { appId: randomUUID(), displayName: option('--display-name'), identifierUris: [], api: {}, appRoles: [] };
    state.apps.push(created);
    return out(created.appId);
  }
  if (command === 'ad app update') return void (app(option('--id')).identifierUris = [option('--identifier-uris')]);
  if (command === 'ad sp list' && query === '[0].id') {
    const appId = /appId eq '([^']+)'/.exec(option('--filter'))?.[1];
    return out(state.servicePrincipals.find((sp) => sp.appId === appId)?.id);
  }
  if (command === 'ad sp create' && query === 'id') {
    const created = { id: randomUUID(), appId: option('--id'), appRoleAssignmentRequired: false };
    state.servicePrincipals.push(created);
    return out(created.id);
  }
  if (command === 'ad sp show' && query === 'id') {
    const found = state.servicePrincipals.find((sp) => sp.appId === option('--id') || sp.id === option('--id'));
    if (!found) fail(`no service principal ${option('--id')}`);
    return out(found.id);
  }
  if (command === 'ad sp update' && option('--set') === 'appRoleAssignmentRequired=true') {
    return void (state.servicePrincipals.find((sp) => sp.id === option('--id')).appRoleAssignmentRequired = true);
  }
  if (command === 'rest') return rest(option('--method'), option('--uri'), option('--body'), query);
  fail(`unexpected call: ${args.join(' ')}`);
}

function rest(method, uri, body, query) {
  const graph = 'https://graph.microsoft.com/v1.0/';
  if (!uri.startsWith(graph)) fail(`not a Microsoft Graph v1.0 call: ${uri}`);
  const path = uri.slice(graph.length);
  const patch = /^applications\(appId='([^']+)'\)$/.exec(path);
  if (method === 'PATCH' && patch && body.startsWith('@')) {
    const changes = JSON.parse(readFileSync(body.slice(1), 'utf8'));
    const target = app(patch[1]);
    if (changes.api?.preAuthorizedApplications) {
      const scopes = new Set((target.api.oauth2PermissionScopes ?? []).map((scope) => scope.id));
      const missing = changes.api.preAuthorizedApplications.flatMap((pre) => pre.delegatedPermissionIds).filter((id) => !scopes.has(id));
      if (missing.length > 0) fail(`pre-authorization of scopes the application does not define yet: ${missing.join(', ')}`);
    }
    Object.assign(target, changes);
    return;
  }
  const assignments = /^(users|servicePrincipals)\/([^/]+)\/appRoleAssignments\?\$filter=resourceId%20eq%20(.+)$/.exec(path);
  if (method === 'GET' && assignments) {
    const role = /appRoleId=='([^']+)'/.exec(query ?? '')?.[1];
    const matching = state.assignments.filter((a) => a.principalId === assignments[2] && a.resourceId === assignments[3] && a.appRoleId === role);
    return out(matching.length);
  }
  const assignTo = /^servicePrincipals\/([^/]+)\/appRoleAssignedTo$/.exec(path);
  if (method === 'POST' && assignTo) {
    const assignment = JSON.parse(body);
    const duplicate = state.assignments.some((a) => a.principalId === assignment.principalId && a.appRoleId === assignment.appRoleId);
    if (duplicate) fail('Permission being assigned already exists on the object');
    state.assignments.push(assignment);
    return out(JSON.stringify({ id: randomUUID(), ...assignment }));
  }
  fail(`unexpected Microsoft Graph call: ${method} ${uri}`);
}

function azd() {
  if (args[0] === 'env' && args[1] === 'set') return void (state.azdEnv[args[2]] = args[3]);
  fail(`unexpected call: ${args.join(' ')}`);
}

if (tool === 'az') az();
else if (tool === 'azd') azd();
else fail('unknown tool');
writeFileSync(file, JSON.stringify(state, null, 2));
