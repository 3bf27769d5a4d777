import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Language, type Node, Parser } from 'web-tree-sitter';

/**
 * Reads the Bicep templates without the Bicep CLI: tree-sitter-bicep parses them, and a small
 * evaluator folds what a template states literally (strings, objects, arrays, variables, values
 * passed to modules) so that tests can assert on resource properties. What only Azure knows
 * (resource outputs, function results) stays an `Expr` that tests can inspect by kind and text.
 */
export const INFRA_DIR = fileURLToPath(new URL('../../infra/', import.meta.url));

export interface SyntaxProblem {
  file: string;
  line: number;
  column: number;
  message: string;
}

export type Value = string | number | boolean | null | Value[] | { [key: string]: Value } | Expr;

/** A value that the template does not state literally. */
export class Expr {
  constructor(
    readonly kind: 'param' | 'ref' | 'member' | 'call' | 'interpolation' | 'other',
    readonly text: string,
    /** Parameter, symbol, member or function name. */
    readonly name = '',
    /** Call arguments, interpolation parts, or the object of a member access. */
    readonly parts: readonly Value[] = [],
  ) {}
}

export interface ParamDeclaration {
  name: string;
  type: string;
  defaultValue: Node | undefined;
  decorators: Map<string, Node[]>;
}

export interface ResourceDeclaration {
  file: BicepFile;
  symbol: string;
  /** `Microsoft.Web/sites`, without the API version. */
  type: string;
  apiVersion: string;
  existing: boolean;
  body: Node;
  /** `[for item in source: …]` */
  loop: { item: string; source: Node } | undefined;
}

export interface ModuleDeclaration {
  file: BicepFile;
  symbol: string;
  /** The module's file, relative to the infra folder, with forward slashes. */
  target: string;
  body: Node;
}

export interface Traced {
  file: BicepFile;
  value: Value;
}

export interface BicepFile {
  /** Relative to the infra folder, with forward slashes. */
  name: string;
  source: string;
  root: Node;
  params: Map<string, ParamDeclaration>;
  vars: Map<string, Node>;
  outputs: Map<string, Node>;
  resources: ResourceDeclaration[];
  modules: ModuleDeclaration[];
}

let parserPromise: Promise<Parser> | undefined;

/** One parser per test process; the grammar ships as WebAssembly inside `tree-sitter-bicep`. */
export function bicepParser(): Promise<Parser> {
  parserPromise ??= (async () => {
    const require = createRequire(import.meta.url);
    const grammar = path.join(path.dirname(require.resolve('tree-sitter-bicep/package.json')), 'tree-sitter-bicep.wasm');
    await Parser.init();
    const parser = new Parser();
    parser.setLanguage(await Language.load(grammar));
    return parser;
  })();
  return parserPromise;
}

export function parse(parser: Parser, source: string): Node {
  const tree = parser.parse(source);
  if (!tree) throw new Error('tree-sitter returned no tree');
  return tree.rootNode;
}

/** Every ERROR and missing node, with 1-based line and column. */
export function syntaxProblems(file: string, root: Node): SyntaxProblem[] {
  const problems: SyntaxProblem[] = [];
  const visit = (node: Node) => {
    if (node.isError || node.isMissing) {
      const { row, column } = node.startPosition;
      const excerpt = node.text.split('\n')[0]!.slice(0, 40);
      const message = node.isMissing ? `missing ${node.type}` : `unexpected ${JSON.stringify(excerpt)}`;
      problems.push({ file, line: row + 1, column: column + 1, message });
      if (node.isError) return;
    }
    if (!node.hasError && !node.isMissing) return;
    for (const child of node.children) if (child) visit(child);
  };
  visit(root);
  return problems;
}

export function formatProblem(problem: SyntaxProblem): string {
  return `${problem.file}:${problem.line}:${problem.column}: ${problem.message}`;
}

/** Every `.bicep` file under the infra folder, relative names with forward slashes, sorted. */
export function bicepFileNames(directory = INFRA_DIR): string[] {
  return readdirSync(directory, { recursive: true, encoding: 'utf8' })
    .map((name) => name.split(path.sep).join('/'))
    .filter((name) => name.endsWith('.bicep'))
    .sort();
}

export class Templates {
  readonly files = new Map<string, BicepFile>();

  private constructor(readonly directory: string) {}

  static async load(directory = INFRA_DIR): Promise<Templates> {
    const parser = await bicepParser();
    const templates = new Templates(directory);
    for (const name of bicepFileNames(directory)) {
      const source = readFileSync(path.join(directory, name), 'utf8');
      templates.files.set(name, readDeclarations(name, source, parse(parser, source)));
    }
    return templates;
  }

  file(name: string): BicepFile {
    const file = this.files.get(name);
    if (!file) throw new Error(`No template ${name} (have ${[...this.files.keys()].join(', ')})`);
    return file;
  }

  resources(type: string): ResourceDeclaration[] {
    return [...this.files.values()].flatMap((file) => file.resources.filter((resource) => resource.type === type));
  }

  /** The one resource of a type that the templates create (not `existing`). */
  created(type: string): ResourceDeclaration {
    const found = this.resources(type).filter((resource) => !resource.existing);
    if (found.length !== 1) throw new Error(`Expected one ${type}, found ${found.length}`);
    return found[0]!;
  }

  /** A resource's body, evaluated; loop resources see their item as an `Expr`. */
  body(resource: ResourceDeclaration): { [key: string]: Value } {
    const value = this.evaluate(resource.file, resource.body);
    if (!isRecord(value)) throw new Error(`${resource.symbol} has no object body`);
    return value;
  }

  /** Evaluates an expression of a file: literals, variables, member access on literal objects. */
  evaluate(file: BicepFile, node: Node, seen: ReadonlySet<string> = new Set()): Value {
    switch (node.type) {
      case 'string':
        return evaluateString(node, (part) => this.evaluate(file, part, seen));
      case 'number':
        return Number(node.text);
      case 'boolean':
        return node.text === 'true';
      case 'null':
        return null;
      case 'array':
        return named(node).map((item) => this.evaluate(file, item, seen));
      case 'object': {
        const result: { [key: string]: Value } = {};
        for (const property of named(node).filter((child) => child.type === 'object_property')) {
          const [key, value] = named(property);
          if (!key || !value) continue;
          const name = key.type === 'string' ? evaluateString(key, (part) => this.evaluate(file, part, seen)) : key.text;
          result[typeof name === 'string' ? name : name.text] = this.evaluate(file, value, seen);
        }
        return result;
      }
      case 'identifier': {
        const name = node.text;
        const variable = file.vars.get(name);
        if (variable && !seen.has(name)) return this.evaluate(file, variable, new Set([...seen, name]));
        if (file.params.has(name)) return new Expr('param', name, name);
        return new Expr('ref', name, name);
      }
      case 'member_expression': {
        const object = this.evaluate(file, node.childForFieldName('object')!, seen);
        const property = node.childForFieldName('property')!.text;
        if (isRecord(object) && property in object) return object[property]!;
        return new Expr('member', node.text, property, [object]);
      }
      case 'call_expression': {
        const name = node.childForFieldName('function')!.text;
        const args = named(node.childForFieldName('arguments')).map((arg) => this.evaluate(file, arg, seen));
        if (name === 'loadJsonContent' && typeof args[0] === 'string') {
          return JSON.parse(readFileSync(path.join(this.directory, path.dirname(file.name), args[0]), 'utf8')) as Value;
        }
        return new Expr('call', node.text, name, args);
      }
      case 'parenthesized_expression':
        return this.evaluate(file, named(node)[0]!, seen);
      default:
        return new Expr('other', node.text);
    }
  }

  /** The modules (in any file) that deploy the given file. */
  callers(file: BicepFile): ModuleDeclaration[] {
    return [...this.files.values()].flatMap((caller) => caller.modules.filter((module) => module.target === file.name));
  }

  /**
   * Follows a value to where the templates state it: a parameter to what each calling module
   * passes (for the entry template, the default), a module output to the module's expression.
   * One result per call path, with the file it belongs to.
   */
  trace(file: BicepFile, value: Value): Traced[] {
    if (value instanceof Expr && value.kind === 'param') {
      const declaration = file.params.get(value.name);
      if (!declaration) throw new Error(`${file.name} has no parameter ${value.name}`);
      const fallback: Traced = { file, value: declaration.defaultValue ? this.evaluate(file, declaration.defaultValue) : value };
      const callers = this.callers(file);
      if (callers.length === 0) return [fallback];
      return callers.flatMap((module) => {
        const passed = at(this.evaluate(module.file, module.body), `params.${value.name}`);
        return passed === undefined ? [fallback] : this.trace(module.file, passed);
      });
    }
    const output = value instanceof Expr && value.kind === 'member' ? /^(\w+)\.outputs\.(\w+)$/.exec(value.text) : null;
    const module = output ? file.modules.find((candidate) => candidate.symbol === output[1]) : undefined;
    if (output && module) {
      const target = this.file(module.target);
      const expression = target.outputs.get(output[2]!);
      if (!expression) throw new Error(`${target.name} has no output ${output[2]}`);
      return this.trace(target, this.evaluate(target, expression));
    }
    return [{ file, value }];
  }

  /** `trace` without the files. */
  resolve(file: BicepFile, value: Value): Value[] {
    return this.trace(file, value).map((traced) => traced.value);
  }

  /** The type of the resource that a symbol reference (`vault`, `vault.properties.vaultUri`) starts at. */
  symbolType(traced: Traced): string | undefined {
    if (!(traced.value instanceof Expr)) return undefined;
    const symbol = /^\w+/.exec(traced.value.text)?.[0];
    return traced.file.resources.find((resource) => resource.symbol === symbol)?.type;
  }

  /** The names of the resources of a type that the templates create, loops expanded. */
  namesCreated(type: string): Value[] {
    return this.resources(type)
      .filter((resource) => !resource.existing)
      .flatMap((resource) => {
        if (!resource.loop) return this.resolve(resource.file, this.body(resource).name ?? null);
        const body = this.body(resource);
        const name = body.name;
        if (!(name instanceof Expr) || name.kind !== 'ref' || name.name !== resource.loop.item) {
          throw new Error(`${resource.symbol}: a loop resource is expected to be named by its loop item`);
        }
        const items = this.resolve(resource.file, this.evaluate(resource.file, resource.loop.source));
        return items.flatMap((list) => (Array.isArray(list) ? list : [list]));
      });
  }
}

function readDeclarations(name: string, source: string, root: Node): BicepFile {
  const file: BicepFile = { name, source, root, params: new Map(), vars: new Map(), outputs: new Map(), resources: [], modules: [] };
  let decorators = new Map<string, Node[]>();
  for (const node of named(root)) {
    if (node.type === 'decorators') {
      decorators = readDecorators(node);
      continue;
    }
    const children = named(node);
    const symbol = children[0]?.text ?? '';
    switch (node.type) {
      case 'parameter_declaration': {
        const [, type, defaultValue] = children;
        file.params.set(symbol, { name: symbol, type: type?.text ?? '', defaultValue, decorators });
        break;
      }
      case 'variable_declaration':
        file.vars.set(symbol, children[1]!);
        break;
      case 'output_declaration':
        file.outputs.set(symbol, children[2]!);
        break;
      case 'resource_declaration': {
        const [typeName = '', apiVersion = ''] = stringLiteral(children[1]!).split('@');
        const { body, loop } = declarationBody(children[2]!);
        const existing = node.children.some((child) => child?.type === 'existing');
        file.resources.push({ file, symbol, type: typeName, apiVersion, existing, body, loop });
        break;
      }
      case 'module_declaration': {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(name), stringLiteral(children[1]!)));
        file.modules.push({ file, symbol, target, body: declarationBody(children[2]!).body });
        break;
      }
    }
    decorators = new Map();
  }
  return file;
}

function readDecorators(node: Node): Map<string, Node[]> {
  const result = new Map<string, Node[]>();
  for (const decorator of named(node)) {
    const call = named(decorator)[0];
    if (!call) continue;
    const name = call.childForFieldName('function')?.text ?? '';
    result.set(name, named(call.childForFieldName('arguments')));
  }
  return result;
}

function declarationBody(node: Node): { body: Node; loop: ResourceDeclaration['loop'] } {
  if (node.type === 'for_statement') {
    const [item, source, body] = named(node);
    return { body: body!, loop: { item: item!.text, source: source! } };
  }
  if (node.type === 'if_statement') return { body: named(node).at(-1)!, loop: undefined };
  return { body: node, loop: undefined };
}

function stringLiteral(node: Node): string {
  const value = evaluateString(node, () => {
    throw new Error(`Expected a literal string at line ${node.startPosition.row + 1}`);
  });
  if (typeof value !== 'string') throw new Error(`Expected a literal string at line ${node.startPosition.row + 1}`);
  return value;
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", $: '$' };

function evaluateString(node: Node, evaluatePart: (part: Node) => Value): string | Expr {
  const parts: Value[] = [];
  let text = '';
  for (const child of named(node)) {
    if (child.type === 'string_content') text += child.text;
    else if (child.type === 'escape_sequence') text += ESCAPES[child.text.slice(1)] ?? child.text;
    else if (child.type === 'interpolation') {
      const value = evaluatePart(named(child)[0]!);
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
        text += String(value);
      } else {
        if (text !== '') parts.push(text);
        text = '';
        parts.push(value);
      }
    }
  }
  if (parts.length === 0) return text;
  if (text !== '') parts.push(text);
  return new Expr('interpolation', node.text, '', parts);
}

function isNode(node: Node | null): node is Node {
  return node !== null;
}

/** Named children without comments. */
function named(node: Node | null): Node[] {
  return (node?.namedChildren ?? []).filter(isNode).filter((child) => child.type !== 'comment' && child.type !== 'diagnostic_comment');
}

export function isRecord(value: Value | undefined): value is { [key: string]: Value } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Expr);
}

/** Reads `a.b.c` of an evaluated value; undefined when a step is missing. */
export function at(value: Value | undefined, dotted: string): Value | undefined {
  let current = value;
  for (const key of dotted.split('.')) {
    if (!isRecord(current)) return undefined;
    current = current[key];
  }
  return current;
}

/** Whether a value refers to something by name: a parameter, a symbol, or a member of one. */
export function refersTo(value: Value | undefined, text: string): boolean {
  return value instanceof Expr && value.text === text;
}
