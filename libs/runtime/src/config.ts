import { z } from 'zod';

/**
 * Configuration comes from environment variables only, validated once at start-up against a zod
 * object whose keys are the variable names, so every error names the variable to fix.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

export function loadConfig<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  // Empty strings count as unset: `FOO= node x` is a common way to clear a variable.
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') cleaned[key] = value;
  }
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const variable = issue.path.length > 0 ? String(issue.path[0]) : '(configuration)';
        const got = typeof issue.path[0] === 'string' ? cleaned[issue.path[0]] : undefined;
        return `${variable}: ${issue.message}${got !== undefined ? ` (got ${JSON.stringify(got.length > 80 ? `${got.slice(0, 80)}...` : got)})` : ''}`;
      }),
    );
  }
  return result.data;
}

const TRUE_WORDS = ['true', '1', 'yes'] as const;
const BOOLEAN_WORDS = ['true', 'false', '1', '0', 'yes', 'no'] as const;

/**
 * The one boolean rule for every variable: true/1/yes or false/0/no; unset gives the fallback;
 * anything else is an error (a typo must not silently mean false).
 */
export function parseBooleanEnv(vars: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const value = vars[name];
  if (value === undefined) return fallback;
  if (!(BOOLEAN_WORDS as readonly string[]).includes(value)) throw new ConfigError([`${name}: must be true or false, got ${JSON.stringify(value.slice(0, 40))}`]);
  return (TRUE_WORDS as readonly string[]).includes(value);
}

/** Reusable variable types with messages that say what is expected. */
export const env = {
  port: (fallback: number) =>
    z.coerce.number({ message: 'must be a TCP port number' }).int('must be an integer').min(0).max(65535).default(fallback),
  positiveInt: (fallback: number) =>
    z.coerce.number({ message: 'must be a number' }).int('must be an integer').positive('must be > 0').default(fallback),
  nonNegativeInt: (fallback: number) =>
    z.coerce.number({ message: 'must be a number' }).int('must be an integer').min(0, 'must be >= 0').default(fallback),
  boolean: (fallback: boolean) =>
    z
      .enum(BOOLEAN_WORDS, { message: 'must be true or false' })
      .transform((v) => (TRUE_WORDS as readonly string[]).includes(v))
      .default(fallback),
  /** Comma-separated list; blanks dropped. */
  list: () =>
    z
      .string()
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0),
      )
      .optional(),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  natsUrl: () =>
    z
      .string()
      .refine(
        (v) => v.split(',').every((u) => /^(nats|tls|wss?):\/\/[^\s]+$/.test(u.trim()) || /^[^\s:/]+:\d+$/.test(u.trim())),
        'must be a comma-separated list of nats://host:port URLs',
      )
      .optional(),
};
