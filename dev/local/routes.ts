/**
 * Route templates as the Functions host reads them: literal segments, `{name}`, optional `{name?}`
 * (last segments only), constraints `{name:int}`, `{name:alpha}`, `{name:guid}`, and a catch-all
 * `{*name}` (last segment only) that takes the rest of the path, the empty path included. Literal
 * segments win over parameters when two templates match the same path, and a catch-all loses to
 * every template without one, as in ASP.NET Core routing.
 */
export interface CompiledRoute {
  template: string;
  match(path: string): Record<string, string> | undefined;
  /** Higher wins: more literal segments first. */
  precedence: number;
}

interface Segment {
  literal?: string;
  name?: string;
  optional?: boolean;
  catchAll?: boolean;
  constraint?: string;
}

const CONSTRAINTS: Record<string, RegExp> = {
  int: /^-?\d+$/,
  alpha: /^[A-Za-z]+$/,
  guid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
};

export function compileRoute(template: string): CompiledRoute {
  const segments: Segment[] = template
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .filter((part) => part !== '')
    .map((part) => {
      const param = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?(\?)?\}$/.exec(part);
      if (!param) return { literal: part.toLowerCase() };
      return { name: param[2]!, catchAll: param[1] === '*', constraint: param[3], optional: param[4] === '?' };
    });
  const catchAllAt = segments.findIndex((segment) => segment.catchAll);
  if (catchAllAt !== -1 && catchAllAt !== segments.length - 1) throw new Error(`Route '${template}': a catch-all must be the last segment`);
  const catchAll = catchAllAt === -1 ? undefined : segments.pop();
  const literals = segments.filter((segment) => segment.literal !== undefined).length;
  return {
    template,
    precedence: catchAll ? literals * 100 - 50 : literals * 100 + segments.length,
    match(path) {
      const parts = path.replace(/^\/+|\/+$/g, '').split('/').filter((part) => part !== '');
      if (parts.length > segments.length && !catchAll) return undefined;
      const params: Record<string, string> = {};
      for (const [index, segment] of segments.entries()) {
        const part = parts[index];
        if (part === undefined) {
          if (segment.optional) continue;
          return undefined;
        }
        if (segment.literal !== undefined) {
          if (part.toLowerCase() !== segment.literal) return undefined;
          continue;
        }
        const value = decode(part);
        if (value === undefined) return undefined;
        const rule = segment.constraint ? CONSTRAINTS[segment.constraint] : undefined;
        if (rule && !rule.test(value)) return undefined;
        params[segment.name!] = value;
      }
      if (catchAll) {
        const rest = parts.slice(segments.length).map(decode);
        if (rest.some((part) => part === undefined)) return undefined;
        params[catchAll.name!] = rest.join('/');
      }
      return params;
    },
  };
}

function decode(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}
