import { idProblem } from '@session-mesh/protocol';

export interface ClaimNames {
  readonly user: string;
  readonly session: string;
  readonly roles: string;
}

export const DEFAULT_CLAIMS: ClaimNames = { user: 'sub', session: 'jti', roles: 'roles' };

/**
 * Reads a claim by name; a name with dots that is not itself a claim is followed as a path
 * (`realm_access.roles`), because identity providers nest roles. Exact names win, so namespaced
 * claims such as `https://example.com/roles` still work.
 */
export function readClaim(payload: Readonly<Record<string, unknown>>, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  if (!name.includes('.')) return undefined;
  let value: unknown = payload;
  for (const part of name.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** An id claim, or a sentence saying what is wrong with it. */
export function idClaim(payload: Readonly<Record<string, unknown>>, name: string, what: string): { id: string } | { problem: string } {
  const value = readClaim(payload, name);
  if (value === undefined || value === null) return { problem: `token has no "${name}" claim (the ${what})` };
  if (typeof value !== 'string') return { problem: `claim "${name}" (the ${what}) must be a string` };
  const problem = idProblem(value);
  if (problem !== undefined) return { problem: `claim "${name}" (the ${what}) ${problem}` };
  return { id: value };
}

/**
 * Roles as a sorted, de-duplicated list: identity providers send an array of strings, some a
 * space- or comma-separated string (OAuth `scope` style). A missing claim means no roles.
 */
export function rolesClaim(payload: Readonly<Record<string, unknown>>, name: string): { roles: string[] } | { problem: string } {
  const value = readClaim(payload, name);
  if (value === undefined || value === null) return { roles: [] };
  let list: string[];
  if (typeof value === 'string') {
    list = value.split(/[\s,]+/);
  } else if (Array.isArray(value) && value.every((r): r is string => typeof r === 'string')) {
    list = value.map((r) => r.trim());
  } else {
    return { problem: `claim "${name}" (the roles) must be an array of strings or a space/comma-separated string` };
  }
  const roles = [...new Set(list.filter((r) => r.length > 0))].sort();
  for (const role of roles) {
    if (!role.isWellFormed()) return { problem: `claim "${name}" (the roles) holds a role that is not well-formed Unicode` };
  }
  return { roles };
}
