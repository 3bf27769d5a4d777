import type { z } from 'zod';

export interface FieldIssue {
  /** Dotted path with indexes in brackets: `items[3].identifiers[0].channels.email.status`. */
  field: string;
  code: string;
  message: string;
}

export function issuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out.length === 0 ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** Zod issues as the flat list of field errors that the providers' validation answers carry. */
export function fieldIssues(error: z.ZodError, prefix: readonly PropertyKey[] = []): FieldIssue[] {
  return error.issues.flatMap((issue): FieldIssue[] => {
    if (issue.code === 'unrecognized_keys') {
      // One issue per field, named by its own path: what a contract test wants to see.
      return issue.keys.map((key) => ({
        field: issuePath([...prefix, ...issue.path, key]),
        code: 'unrecognized_key',
        message: 'Unrecognized field',
      }));
    }
    return [
      {
        field: issuePath([...prefix, ...issue.path]),
        // Zod leaves the input out of issues; its message is the one place that says it was absent.
        code: issue.code === 'invalid_type' && issue.message.endsWith('received undefined') ? 'required' : issue.code,
        message: issue.message,
      },
    ];
  });
}

export function describeIssues(issues: readonly FieldIssue[], max = 5): string {
  const shown = issues.slice(0, max).map((issue) => `${issue.field || '(body)'}: ${issue.message}`);
  const more = issues.length > max ? ` (and ${issues.length - max} more)` : '';
  return shown.join('; ') + more;
}
