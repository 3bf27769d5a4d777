/**
 * Route templates as the Functions host reads them: literal segments, `{name}`, optional `{name?}`
 * (last segments only) and constraints `{name:int}`, `{name:alpha}`, `{name:guid}`. Literal
 * segments win over parameters when two templates match the same path.
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
      const param = /^\{([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?(\?)?\}$/.exec(part);
      if (!param) return { literal: part.toLowerCase() };
      return { name: param[1]!, constraint: param[2], optional: param[3] === '?' };
    });
  return {
    template,
    precedence: segments.filter((segment) => segment.literal !== undefined).length * 100 + segments.length,
    match(path) {
      const parts = path.replace(/^\/+|\/+$/g, '').split('/').filter((part) => part !== '');
      if (parts.length > segments.length) return undefined;
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
        let value: string;
        try {
          value = decodeURIComponent(part);
        } catch {
          return undefined;
        }
        const rule = segment.constraint ? CONSTRAINTS[segment.constraint] : undefined;
        if (rule && !rule.test(value)) return undefined;
        params[segment.name!] = value;
      }
      return params;
    },
  };
}
