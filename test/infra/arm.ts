import { createHash } from 'node:crypto';
import { z } from 'zod';
import { type ExpressionNode, parseExpression } from './arm-expression';

/**
 * The compiled template (ARM JSON, from `bicep build`) expanded the way Azure Resource Manager
 * expands it for one deployment: parameters bound, variables and expressions evaluated, copy loops
 * unrolled, and every module (a nested deployment) expanded with what its caller passes. What only
 * Azure knows while deploying stays symbolic: a `Runtime` value names the resource and the
 * property it reads, a `Computed` value the function applied to one. An ARM function this does not
 * know throws, so a template that starts using one fails loudly here rather than passing blindly.
 */

/** The one deployment the tests expand: what azd would pass (main.parameters.json) for an environment. */
export const DEPLOYMENT_INPUTS = {
  environmentName: 'ci',
  location: 'westeurope',
  entraClientId: '11111111-2222-4333-8444-555555555555',
} as const;

const SUBSCRIPTION_ID = '00000000-0000-4000-8000-0000000000aa';
const TENANT_ID = '00000000-0000-4000-8000-0000000000bb';

/** A property of a resource that Azure knows once it exists: `reference(resource).path`. */
export class Runtime {
  constructor(
    readonly resourceId: string,
    /** From the resource's root: `properties.vaultUri`, `identity.principalId`. */
    readonly path: readonly string[],
  ) {}

  toString(): string {
    return `reference(${this.resourceId}).${this.path.join('.')}`;
  }
}

/** A function applied to at least one runtime value: `guid(scope, principalId, role)`, `format('https://{0}', host)`. */
export class Computed {
  constructor(
    readonly fn: string,
    readonly args: readonly Value[],
  ) {}

  toString(): string {
    return `${this.fn}(${this.args.map((arg) => (typeof arg === 'string' ? `'${arg}'` : show(arg))).join(', ')})`;
  }
}

export type Value = null | boolean | number | string | Value[] | { [key: string]: Value } | Runtime | Computed;

/** What `reference()` returns until a property is read from it. */
class Reference {
  constructor(
    readonly resourceId: string,
    readonly full: boolean,
  ) {}
}

type Evaluated = Value | Reference;

const resourceSchema = z.looseObject({
  type: z.string(),
  apiVersion: z.string(),
  name: z.string(),
  existing: z.boolean().optional(),
  condition: z.unknown().optional(),
  copy: z.object({ name: z.string(), count: z.unknown() }).optional(),
  scope: z.string().optional(),
  resourceGroup: z.string().optional(),
  dependsOn: z.array(z.string()).optional(),
});
type ResourceJson = z.infer<typeof resourceSchema>;

const parameterSchema = z.looseObject({ type: z.string().optional(), $ref: z.string().optional(), defaultValue: z.unknown().optional() });

export const templateSchema = z.looseObject({
  $schema: z.string(),
  languageVersion: z.string().optional(),
  parameters: z.record(z.string(), parameterSchema).optional(),
  variables: z.record(z.string(), z.unknown()).optional(),
  resources: z.union([z.array(resourceSchema), z.record(z.string(), resourceSchema)]),
  outputs: z.record(z.string(), z.looseObject({ type: z.string().optional(), value: z.unknown() })).optional(),
});
export type TemplateJson = z.infer<typeof templateSchema>;

const deploymentPropertiesSchema = z.looseObject({
  expressionEvaluationOptions: z.object({ scope: z.literal('inner') }),
  parameters: z.record(z.string(), z.object({ value: z.unknown() })).optional(),
  template: templateSchema,
});

export interface Resource {
  deployment: Deployment;
  /** The Bicep symbol (templates with symbolic names), or the position in the template. */
  symbol: string;
  type: string;
  apiVersion: string;
  name: string | Computed;
  id: string;
  existing: boolean;
  /** Ids of the resources this one waits for. */
  dependsOn: string[];
  /** The declaration, evaluated: `properties`, `tags`, `kind`, `sku`, `identity`, … */
  body: { [key: string]: Value };
}

interface Scope {
  subscriptionId: string;
  /** Unset for the subscription-scoped entry template. */
  resourceGroup: string | undefined;
}

export class Deployment {
  readonly parameters: { [name: string]: Value } = {};
  private readonly variableCache = new Map<string, Value>();
  private identities: Map<string, Identity[]> | undefined;
  private resourceList: Resource[] | undefined;
  private readonly children = new Map<string, Deployment>();
  private readonly expanding = new Set<string>();

  constructor(
    /** `main`, then module names: `main/functionApp/auth`. */
    readonly path: string,
    readonly template: TemplateJson,
    readonly scope: Scope,
    passed: { [name: string]: Value },
  ) {
    const declared = template.parameters ?? {};
    const unknown = Object.keys(passed).filter((name) => !(name in declared));
    if (unknown.length > 0) throw new Error(`${path}: passed parameters it does not declare: ${unknown.join(', ')}`);
    for (const name of Object.keys(declared)) if (name in passed) this.parameters[name] = passed[name]!;
    // Defaults may read other parameters, so they are evaluated once every passed value is bound.
    for (const [name, declaration] of Object.entries(declared)) {
      if (name in this.parameters) continue;
      if (declaration.defaultValue === undefined) throw new Error(`${path}: parameter ${name} has no value and no default`);
      this.parameters[name] = this.evaluate(declaration.defaultValue);
    }
  }

  /** The entry template, deployed to the test subscription with the test inputs. */
  static entry(template: TemplateJson, inputs: { [name: string]: Value } = { ...DEPLOYMENT_INPUTS }): Deployment {
    return new Deployment('main', template, { subscriptionId: SUBSCRIPTION_ID, resourceGroup: undefined }, inputs);
  }

  /** The resources this template declares, copy loops unrolled (modules are Microsoft.Resources/deployments). */
  get resources(): Resource[] {
    this.resourceList ??= [...this.identitiesBySymbol().entries()].flatMap(([symbol, identities]) =>
      identities.map((identity) => this.resource(symbol, identity)),
    );
    return this.resourceList;
  }

  /** This deployment and every nested one, depth first. */
  all(): Deployment[] {
    return [this, ...this.resources.filter((resource) => resource.type === DEPLOYMENTS).flatMap((resource) => this.child(resource.symbol).all())];
  }

  /** Every resource of every deployment. */
  allResources(): Resource[] {
    return this.all().flatMap((deployment) => deployment.resources);
  }

  /** The nested deployment of a module, by the module's deployment name. */
  module(name: string): Deployment {
    const resource = this.resources.find((candidate) => candidate.type === DEPLOYMENTS && candidate.name === name);
    if (!resource) throw new Error(`${this.path}: no module named ${name}`);
    return this.child(resource.symbol);
  }

  outputs(): { [name: string]: Value } {
    return Object.fromEntries(Object.entries(this.template.outputs ?? {}).map(([name, output]) => [name, this.evaluate(output.value)]));
  }

  /** Evaluates a JSON value of this template: strings in brackets are ARM expressions. */
  evaluate(value: unknown, copyIndex?: number): Value {
    const result = this.evaluateJson(value, copyIndex);
    if (result instanceof Reference) throw new Error(`${this.path}: reference(${result.resourceId}) is not a value by itself`);
    return result;
  }

  private entries(): [string, ResourceJson][] {
    const { resources } = this.template;
    return Array.isArray(resources) ? resources.map((json, index) => [String(index), json]) : Object.entries(resources);
  }

  /**
   * Names and ids first, for every resource: bodies may reference any symbol, and names never read
   * a body (Azure needs them before it deploys anything).
   */
  private identitiesBySymbol(): Map<string, Identity[]> {
    if (!this.identities) {
      this.identities = new Map();
      for (const [symbol, json] of this.entries()) {
        if (json.condition !== undefined && this.evaluate(json.condition) !== true) continue;
        const indexes = json.copy ? Array.from({ length: this.copyCount(symbol, json) }, (_, index) => index) : [undefined];
        this.identities.set(
          symbol,
          indexes.map((copyIndex) => {
            const name = this.evaluate(json.name, copyIndex);
            if (typeof name !== 'string' && !(name instanceof Computed)) throw new Error(`${this.path}/${symbol}: name ${show(name)}`);
            return { json, copyIndex, name, id: this.resourceIdOf(json, name, copyIndex) };
          }),
        );
      }
    }
    return this.identities;
  }

  private copyCount(symbol: string, json: ResourceJson): number {
    const count = this.evaluate(json.copy!.count);
    if (typeof count !== 'number') throw new Error(`${this.path}/${symbol}: copy count ${show(count)} is not known before deployment`);
    return count;
  }

  private resource(symbol: string, { json, copyIndex, name, id }: Identity): Resource {
    const body: { [key: string]: Value } = {};
    for (const [key, value] of Object.entries(json)) {
      if (['type', 'apiVersion', 'name', 'existing', 'condition', 'copy', 'scope', 'dependsOn', 'resourceGroup'].includes(key)) continue;
      // A module's template is expanded as a deployment of its own, not evaluated in its caller.
      if (json.type === DEPLOYMENTS && key === 'properties') continue;
      body[key] = this.evaluate(value, copyIndex);
    }
    return {
      deployment: this,
      symbol,
      type: json.type,
      apiVersion: json.apiVersion,
      name,
      id,
      existing: json.existing === true,
      dependsOn: (json.dependsOn ?? []).flatMap((dependency) => this.dependencyIds(dependency)),
      body,
    };
  }

  private resourceIdOf(json: ResourceJson, name: string | Computed, copyIndex: number | undefined): string {
    const leaf = text(name);
    if (json.scope !== undefined) return `${text(this.evaluate(json.scope, copyIndex))}/providers/${json.type}/${leaf}`;
    if (json.type === 'Microsoft.Resources/resourceGroups') return groupId(this.scope.subscriptionId, leaf);
    const group = json.resourceGroup !== undefined ? text(this.evaluate(json.resourceGroup, copyIndex)) : this.scope.resourceGroup;
    const prefix = group === undefined ? `/subscriptions/${this.scope.subscriptionId}` : groupId(this.scope.subscriptionId, group);
    return `${prefix}/providers/${interleave(json.type, leaf.split('/'))}`;
  }

  private symbolIds(symbol: string): string[] {
    const identities = this.identitiesBySymbol().get(symbol);
    if (!identities) throw new Error(`${this.path}: no resource ${symbol}`);
    return identities.map((identity) => identity.id);
  }

  private dependencyIds(dependency: string): string[] {
    return dependency.startsWith('[') ? [text(this.evaluate(dependency))] : this.symbolIds(dependency);
  }

  private child(symbol: string): Deployment {
    const existing = this.children.get(symbol);
    if (existing) return existing;
    if (this.expanding.has(symbol)) throw new Error(`${this.path}: module ${symbol} depends on itself`);
    const identity = this.identitiesBySymbol().get(symbol)?.[0];
    if (!identity || identity.json.type !== DEPLOYMENTS) throw new Error(`${this.path}: no module ${symbol}`);
    this.expanding.add(symbol);
    const { json } = identity;
    const properties = deploymentPropertiesSchema.parse(json.properties);
    const passed = Object.fromEntries(Object.entries(properties.parameters ?? {}).map(([name, { value }]) => [name, this.evaluate(value)]));
    const group = json.resourceGroup !== undefined ? text(this.evaluate(json.resourceGroup)) : this.scope.resourceGroup;
    const deployment = new Deployment(`${this.path}/${text(identity.name)}`, properties.template, { subscriptionId: this.scope.subscriptionId, resourceGroup: group }, passed);
    this.children.set(symbol, deployment);
    this.expanding.delete(symbol);
    return deployment;
  }

  /** The module deployed as the resource with this id, if it is one of this template's. */
  private childById(id: string): Deployment | undefined {
    for (const [symbol, identities] of this.identitiesBySymbol()) {
      if (identities[0]?.json.type === DEPLOYMENTS && identities[0].id === id) return this.child(symbol);
    }
    return undefined;
  }

  private variable(name: string): Value {
    if (!this.variableCache.has(name)) {
      const variables = this.template.variables ?? {};
      const loop = copyLoops(variables).find((candidate) => candidate.name === name);
      if (loop) {
        this.variableCache.set(name, this.variableLoop(loop));
        return this.variableCache.get(name)!;
      }
      if (!(name in variables) || name === 'copy') throw new Error(`${this.path}: no variable ${name}`);
      this.variableCache.set(name, this.evaluate(variables[name]));
    }
    return this.variableCache.get(name)!;
  }

  /** A variable copy loop (`var x = [for ...]`): its input evaluated once per index (one level, no nesting). */
  private variableLoop(loop: VariableLoop): Value {
    const count = this.evaluate(loop.count);
    if (typeof count !== 'number') throw new Error(`${this.path}: variable ${loop.name}: copy count ${show(count)} is not known before deployment`);
    return Array.from({ length: count }, (_, index) => this.evaluate(loop.input, index));
  }

  private evaluateJson(value: unknown, copyIndex: number | undefined): Evaluated {
    if (typeof value === 'string') {
      if (value.startsWith('[[')) return value.slice(1);
      if (value.startsWith('[') && value.endsWith(']')) return this.evaluateNode(parseExpression(value.slice(1, -1)), copyIndex);
      return value;
    }
    if (Array.isArray(value)) return value.map((item) => this.evaluate(item, copyIndex));
    if (value !== null && typeof value === 'object') {
      const result: { [key: string]: Value } = {};
      for (const [key, item] of Object.entries(value)) result[text(this.evaluate(key, copyIndex))] = this.evaluate(item, copyIndex);
      return result;
    }
    if (value === null || typeof value === 'number' || typeof value === 'boolean') return value;
    throw new Error(`${this.path}: not a JSON value (${typeof value})`);
  }

  private evaluateNode(node: ExpressionNode, copyIndex: number | undefined): Evaluated {
    switch (node.kind) {
      case 'literal':
        return node.value;
      case 'member': {
        const object = this.evaluateNode(node.object, copyIndex);
        const property = node.property.kind === 'name' ? node.property.name : this.evaluateNode(node.property.node, copyIndex);
        if (property instanceof Reference) throw new Error(`${this.path}: reference() as an index`);
        return this.member(object, property);
      }
      case 'call':
        return this.call(
          node.name,
          node.args.map((arg) => this.evaluateNode(arg, copyIndex)),
          copyIndex,
        );
    }
  }

  private member(object: Evaluated, property: Value): Evaluated {
    if (object instanceof Reference) {
      // `reference(module).outputs.NAME.value`: the module's output, followed into the module.
      const module = this.childById(object.resourceId);
      if (module && property === 'outputs') {
        return Object.fromEntries(Object.entries(module.outputs()).map(([name, value]) => [name, { value }]));
      }
      return new Runtime(object.resourceId, object.full ? [text(property)] : ['properties', text(property)]);
    }
    if (object instanceof Runtime) return new Runtime(object.resourceId, [...object.path, text(property)]);
    if (object instanceof Computed) return new Computed('member', [object, property]);
    if (Array.isArray(object) && typeof property === 'number') {
      if (property < 0 || property >= object.length) throw new Error(`${this.path}: index ${property} outside ${object.length} items`);
      return object[property]!;
    }
    if (object !== null && typeof object === 'object' && !Array.isArray(object) && typeof property === 'string') {
      if (!(property in object)) throw new Error(`${this.path}: no property ${property} in ${show(object)}`);
      return object[property]!;
    }
    throw new Error(`${this.path}: cannot read ${show(property)} of ${show(object)}`);
  }

  private call(name: string, args: Evaluated[], copyIndex: number | undefined): Evaluated {
    const lower = name.toLowerCase();
    if (lower === 'reference') return this.reference(args);
    const values = args.map((arg) => {
      if (arg instanceof Reference) throw new Error(`${this.path}: reference(${arg.resourceId}) passed whole to ${name}()`);
      return arg;
    });
    const known = values.every(isKnown);
    switch (lower) {
      case 'parameters':
        return this.lookup(this.parameters, stringArg(values, 0, name), 'parameter');
      case 'variables':
        return this.variable(stringArg(values, 0, name));
      case 'copyindex':
        if (copyIndex === undefined) throw new Error(`${this.path}: copyIndex() outside a copy loop`);
        // copyIndex(), copyIndex(offset), copyIndex('loop') or copyIndex('loop', offset): one loop at a time.
        return copyIndex + (typeof values[0] === 'number' ? values[0] : typeof values[1] === 'number' ? values[1] : 0);
      case 'true':
        return true;
      case 'false':
        return false;
      case 'null':
        return null;
      case 'empty':
        return known ? lengthOf(values[0] ?? null) === 0 : new Computed('empty', values);
      case 'not':
        return known ? values[0] !== true : new Computed('not', values);
      case 'if':
        if (values[0] === true) return values[1] ?? null;
        if (values[0] === false) return values[2] ?? null;
        return new Computed('if', values);
      case 'format':
        return known ? formatString(stringArg(values, 0, name), values.slice(1)) : new Computed('format', values);
      case 'concat':
        if (!known) return new Computed('concat', values);
        return values.every(Array.isArray) ? values.flat() : values.map(text).join('');
      case 'length':
        return known ? lengthOf(values[0] ?? null) : new Computed('length', values);
      case 'take':
        return known ? take(values) : new Computed('take', values);
      case 'tolower':
        return known ? stringArg(values, 0, name).toLowerCase() : new Computed('toLower', values);
      case 'union':
        return known ? union(values) : new Computed('union', values);
      case 'createobject': {
        const result: { [key: string]: Value } = {};
        for (let index = 0; index < values.length; index += 2) result[text(values[index] ?? null)] = values[index + 1] ?? null;
        return result;
      }
      case 'uniquestring':
        return known ? uniqueString(values) : new Computed('uniqueString', values);
      case 'guid':
        return known ? guid(values) : new Computed('guid', values);
      case 'subscription':
        return { id: `/subscriptions/${this.scope.subscriptionId}`, subscriptionId: this.scope.subscriptionId, tenantId: TENANT_ID, displayName: 'test' };
      case 'tenant':
        return { tenantId: TENANT_ID, countryCode: 'US', displayName: 'test' };
      case 'resourcegroup':
        if (this.scope.resourceGroup === undefined) throw new Error(`${this.path}: resourceGroup() in a subscription deployment`);
        return { id: groupId(this.scope.subscriptionId, this.scope.resourceGroup), name: this.scope.resourceGroup, location: DEPLOYMENT_INPUTS.location };
      case 'deployment':
        return { name: this.path.split('/').at(-1)! };
      case 'environment':
        return { name: 'AzureCloud', authentication: { loginEndpoint: 'https://login.microsoftonline.com/' } };
      case 'resourceid':
        return this.resourceId(values);
      case 'subscriptionresourceid':
        return `/subscriptions/${this.scope.subscriptionId}/providers/${typeAndNames(values, name)}`;
      case 'extensionresourceid':
        return `${text(values[0] ?? null)}/providers/${typeAndNames(values.slice(1), name)}`;
      case 'string':
        if (!known) return new Computed('string', values);
        return typeof values[0] === 'string' ? values[0] : JSON.stringify(values[0]);
      default:
        throw new Error(`${this.path}: the ARM function ${name}() is not simulated (test/infra/arm.ts)`);
    }
  }

  private reference(args: Evaluated[]): Reference {
    const [target, , option] = args;
    const full = typeof option === 'string' && option.toLowerCase() === 'full';
    if (typeof target !== 'string') throw new Error(`${this.path}: reference() of something that is not a name or an id`);
    // A resource id, or (in templates with symbolic names) the symbol of a resource of this template.
    return new Reference(target.startsWith('/') ? target : this.symbolIds(target)[0]!, full);
  }

  private resourceId(values: Value[]): string {
    const typeIndex = values.findIndex((value) => typeof value === 'string' && /^[A-Za-z]+\.[A-Za-z.]+\/\w/.test(value));
    if (typeIndex < 0) throw new Error(`${this.path}: resourceId(${values.map(show).join(', ')}) has no resource type`);
    const before = values.slice(0, typeIndex).map(String);
    const subscriptionId = before.length === 2 ? before[0]! : this.scope.subscriptionId;
    const group = before.length >= 1 ? before.at(-1)! : this.scope.resourceGroup;
    const typed = typeAndNames(values.slice(typeIndex), 'resourceId');
    return group === undefined ? `/subscriptions/${subscriptionId}/providers/${typed}` : `${groupId(subscriptionId, group)}/providers/${typed}`;
  }

  private lookup(values: { [name: string]: Value }, name: string, what: string): Value {
    if (!(name in values)) throw new Error(`${this.path}: no ${what} ${name}`);
    return values[name]!;
  }
}

interface Identity {
  json: ResourceJson;
  copyIndex: number | undefined;
  name: string | Computed;
  id: string;
}

const DEPLOYMENTS = 'Microsoft.Resources/deployments';

function groupId(subscriptionId: string, group: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${group}`;
}

/** `Microsoft.Storage/storageAccounts/queueServices` + `st/default` -> `Microsoft.Storage/storageAccounts/st/queueServices/default`. */
function interleave(type: string, names: string[]): string {
  const [namespace, ...types] = type.split('/');
  if (types.length !== names.length) throw new Error(`${type} needs ${types.length} name segments, got ${names.join('/')}`);
  return [namespace, ...types.flatMap((segment, index) => [segment, names[index]!])].join('/');
}

function typeAndNames(values: Value[], fn: string): string {
  const [type, ...names] = values;
  if (typeof type !== 'string') throw new Error(`${fn}: no resource type`);
  return interleave(type, names.map(text));
}

const variableLoopSchema = z.object({ name: z.string(), count: z.unknown(), input: z.unknown() });
type VariableLoop = z.infer<typeof variableLoopSchema>;

/** The copy loops of a template's variables (`variables.copy`), none when it has none. */
function copyLoops(variables: { [name: string]: unknown }): VariableLoop[] {
  return 'copy' in variables ? z.array(variableLoopSchema).parse(variables.copy) : [];
}

function isKnown(value: Value): boolean {
  if (value instanceof Runtime || value instanceof Computed) return false;
  if (Array.isArray(value)) return value.every(isKnown);
  if (value !== null && typeof value === 'object') return Object.values(value).every(isKnown);
  return true;
}

function stringArg(values: Value[], index: number, fn: string): string {
  const value = values[index];
  if (typeof value !== 'string') throw new Error(`${fn}(): argument ${index + 1} is ${show(value ?? null)}, not a string`);
  return value;
}

function formatString(format: string, args: Value[]): string {
  return format.replace(/\{(\d+)\}/g, (_, index: string) => {
    const arg = args[Number(index)];
    if (arg === undefined) throw new Error(`format('${format}'): no argument ${index}`);
    return typeof arg === 'string' ? arg : JSON.stringify(arg);
  });
}

function take([source, count]: Value[]): Value {
  if ((typeof source === 'string' || Array.isArray(source)) && typeof count === 'number') return source.slice(0, count);
  throw new Error(`take(${show(source)}, ${show(count)})`);
}

function lengthOf(value: Value): number {
  if (typeof value === 'string' || Array.isArray(value)) return value.length;
  if (value !== null && typeof value === 'object') return Object.keys(value).length;
  throw new Error(`length(${show(value)})`);
}

function union(values: Value[]): Value {
  if (values.every(Array.isArray)) return [...new Set(values.flat().map((item) => JSON.stringify(item)))].map((item) => JSON.parse(item) as Value);
  const result: { [key: string]: Value } = {};
  for (const value of values) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`union() of ${show(value)}`);
    Object.assign(result, value);
  }
  return result;
}

function digest(values: Value[]): Buffer {
  return createHash('sha256').update(values.map(text).join('\u0000')).digest();
}

/** Stands in for ARM's uniqueString: 13 lower-case characters, the same for the same arguments. */
function uniqueString(values: Value[]): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  return [...digest(values).subarray(0, 13)].map((byte) => alphabet[byte % 32]).join('');
}

/** Stands in for ARM's guid(): a GUID, the same for the same arguments. */
function guid(values: Value[]): string {
  const hex = digest(values).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** A value as ARM puts it into a string: strings as they are, runtime values as their expression. */
export function text(value: Value): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return show(value);
}

export function show(value: Value | undefined): string {
  if (value instanceof Runtime || value instanceof Computed) return value.toString();
  return JSON.stringify(value);
}
