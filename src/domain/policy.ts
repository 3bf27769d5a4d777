// Who may do what: the roles, the actions a request can ask for, and the per-resource rules
// (which connections a Contributor may use, and so which exports they may see). Pure: the API
// reads the principal from the request and asks these functions.
export const ROLES = ['Admin', 'Contributor'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  userId: string;
  name: string;
  roles: ReadonlySet<Role>;
}

/** What a request wants to do; resource-level rules (which connections) are in `canUseConnection`. */
export type Action =
  | 'connection:manage'
  | 'connection:read'
  | 'segment:read'
  | 'segment:write'
  | 'export:read'
  | 'export:write'
  | 'run:read'
  | 'run:start'
  | 'refresh:run'
  | 'audit:read'
  | 'privacy:manage'
  | 'source:manage'
  | 'source:read';

const ALLOWED: Record<Action, readonly Role[]> = {
  'connection:manage': ['Admin'],
  'connection:read': ['Admin', 'Contributor'],
  'segment:read': ['Admin', 'Contributor'],
  'segment:write': ['Admin', 'Contributor'],
  'export:read': ['Admin', 'Contributor'],
  'export:write': ['Admin', 'Contributor'],
  'run:read': ['Admin', 'Contributor'],
  'run:start': ['Admin', 'Contributor'],
  'refresh:run': ['Admin'],
  'audit:read': ['Admin'],
  'privacy:manage': ['Admin'],
  'source:manage': ['Admin'],
  'source:read': ['Admin'],
};

export const ACTION_DESCRIPTIONS: Record<Action, string> = {
  'connection:manage': 'create, change or delete connections',
  'connection:read': 'read connections',
  'segment:read': 'read segments',
  'segment:write': 'upload or delete segments',
  'export:read': 'read exports',
  'export:write': 'create, change or delete exports',
  'run:read': 'read runs',
  'run:start': 'start or cancel runs',
  'refresh:run': 'run the scheduled refresh',
  'audit:read': 'read the audit log',
  'privacy:manage': 'erase people or lift suppressions',
  'source:manage': 'create, change, delete or scan segment sources',
  'source:read': 'read segment sources',
};

/** The roles that may do `action`: what the OpenAPI description names for each route. */
export function rolesAllowedTo(action: Action): readonly Role[] {
  return ALLOWED[action];
}

export function isAdmin(principal: Principal): boolean {
  return principal.roles.has('Admin');
}

export function can(principal: Principal, action: Action): boolean {
  return ALLOWED[action].some((role) => principal.roles.has(role));
}

/** A Contributor may only see and use connections that allow contributors. */
export function canUseConnection(principal: Principal, connection: { allowContributors: boolean }): boolean {
  return isAdmin(principal) || (principal.roles.has('Contributor') && connection.allowContributors);
}

/**
 * An export is visible to (and may be changed, run and deleted by) an Admin, or a Contributor who
 * may use its connection. An export whose connection is gone is an Admin's to clean up.
 */
export function canUseExport(principal: Principal, connection: { allowContributors: boolean } | undefined): boolean {
  return isAdmin(principal) || (connection !== undefined && canUseConnection(principal, connection));
}

/**
 * What a principal may do with a segment, from the connections of the exports that use it
 * (`undefined` for an export whose connection is gone). Segments are global, but what a segment
 * holds reaches every account its exports send to, so a Contributor may replace or delete a segment
 * (`write`) only when they may use every one of those exports — an unused segment included; sees
 * it (`read`) when they may use at least one; and does not see it at all (`none`) otherwise.
 */
export type SegmentAccess = 'write' | 'read' | 'none';

export function segmentAccess(principal: Principal, usedBy: readonly ({ allowContributors: boolean } | undefined)[]): SegmentAccess {
  if (isAdmin(principal)) return 'write';
  if (!can(principal, 'segment:read')) return 'none';
  const usable = usedBy.filter((connection) => canUseExport(principal, connection)).length;
  if (usable === usedBy.length) return can(principal, 'segment:write') ? 'write' : 'read';
  return usable > 0 ? 'read' : 'none';
}
