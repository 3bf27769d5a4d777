import { describe, expect, it } from 'vitest';
import { Computed, Deployment, Runtime, templateSchema } from './arm';
import { parseExpression } from './arm-expression';

/** The stand-in for Resource Manager that the infrastructure tests read the compiled template with. */
const template = (resources: unknown, extra: Record<string, unknown> = {}) =>
  templateSchema.parse({ $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#', resources, ...extra });

describe('ARM expressions', () => {
  it('parses calls, quoted quotes, numbers, members and indexes', () => {
    expect(parseExpression("format('{0}''s', parameters('names')[1].value)")).toEqual({
      kind: 'call',
      name: 'format',
      args: [
        { kind: 'literal', value: "{0}'s" },
        {
          kind: 'member',
          object: {
            kind: 'member',
            object: { kind: 'call', name: 'parameters', args: [{ kind: 'literal', value: 'names' }] },
            property: { kind: 'index', node: { kind: 'literal', value: 1 } },
          },
          property: { kind: 'name', name: 'value' },
        },
      ],
    });
  });

  it('reports where an expression stops making sense', () => {
    expect(() => parseExpression("concat('a', )")).toThrow(/expected a name at 12/);
  });
});

describe('a deployment', () => {
  it('unrolls copy loops, names child resources and keeps runtime values symbolic', () => {
    const main = Deployment.entry(
      template([
        {
          type: 'Microsoft.Resources/deployments',
          apiVersion: '2025-04-01',
          name: 'inner',
          resourceGroup: 'rg-x',
          properties: {
            expressionEvaluationOptions: { scope: 'inner' },
            parameters: { names: { value: ['plan', 'plan-poison'] } },
            template: {
              $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
              parameters: { names: { type: 'array' } },
              resources: {
                account: { type: 'Microsoft.Storage/storageAccounts', apiVersion: '2026-09-01', name: 'st' },
                queues: {
                  copy: { name: 'queues', count: "[length(parameters('names'))]" },
                  type: 'Microsoft.Storage/storageAccounts/queueServices/queues',
                  apiVersion: '2026-09-01',
                  name: "[format('st/default/{0}', parameters('names')[copyIndex()])]",
                  properties: { metadata: { endpoint: "[reference('account').primaryEndpoints.queue]" } },
                },
              },
            },
          },
        },
      ]),
      {},
    );
    const queues = main.allResources().filter((resource) => resource.type.endsWith('/queues'));
    const account = main.allResources().find((resource) => resource.type === 'Microsoft.Storage/storageAccounts')!;
    expect(account.id).toBe('/subscriptions/00000000-0000-4000-8000-0000000000aa/resourceGroups/rg-x/providers/Microsoft.Storage/storageAccounts/st');
    expect(queues.map((queue) => queue.id)).toEqual([`${account.id}/queueServices/default/queues/plan`, `${account.id}/queueServices/default/queues/plan-poison`]);
    expect(queues[0]!.body.properties).toEqual({ metadata: { endpoint: new Runtime(account.id, ['properties', 'primaryEndpoints', 'queue']) } });
  });

  it('refuses an ARM function it does not simulate, rather than guessing', () => {
    const main = Deployment.entry(template([], { outputs: { list: { value: "[createArray('a')]" } } }), {});
    expect(() => main.outputs()).toThrow(/createArray\(\) is not simulated/);
  });

  it('follows a module output back to the resource it reads', () => {
    const inner = {
      $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
      parameters: { name: { type: 'string' } },
      resources: { vault: { type: 'Microsoft.KeyVault/vaults', apiVersion: '2026-05-15', name: "[parameters('name')]" } },
      outputs: { uri: { type: 'string', value: "[reference('vault').vaultUri]" } },
    };
    const main = Deployment.entry(
      template(
        [
          {
            type: 'Microsoft.Resources/deployments',
            apiVersion: '2025-04-01',
            name: 'kv',
            resourceGroup: 'rg-x',
            properties: { expressionEvaluationOptions: { scope: 'inner' }, parameters: { name: { value: "[format('kv-{0}', parameters('env'))]" } }, template: inner },
          },
        ],
        {
          parameters: { env: { type: 'string' } },
          outputs: {
            uri: { value: "[reference(extensionResourceId(format('/subscriptions/{0}/resourceGroups/rg-x', subscription().subscriptionId), 'Microsoft.Resources/deployments', 'kv'), '2025-04-01').outputs.uri.value]" },
            site: { value: "[format('https://{0}', reference(resourceId('rg-x', 'Microsoft.KeyVault/vaults', 'kv-ci')).vaultUri)]" },
          },
        },
      ),
      { env: 'ci' },
    );
    const vault = main.allResources().find((resource) => resource.type === 'Microsoft.KeyVault/vaults')!;
    expect(vault.name).toBe('kv-ci');
    expect(main.outputs().uri).toEqual(new Runtime(vault.id, ['properties', 'vaultUri']));
    expect(main.outputs().site).toEqual(new Computed('format', ['https://{0}', new Runtime(vault.id, ['properties', 'vaultUri'])]));
  });
});
