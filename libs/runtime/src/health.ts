/**
 * Liveness and readiness. Liveness (`/healthz`) means the process is running its event loop;
 * readiness (`/readyz`) means every registered check passes (bus connected, initial state loaded,
 * not draining). Services register checks; the ops server (ops-server.ts) serves the answer.
 */
export type ReadinessCheck = () => true | string;

export class DuplicateCheckError extends Error {
  override readonly name = 'DuplicateCheckError';
}

/** What the scoped views of one Health share. */
class HealthState {
  readonly checks = new Map<string, ReadinessCheck>();
  draining = false;
}

export class Health {
  constructor(
    private readonly state = new HealthState(),
    private readonly prefix = '',
  ) {}

  /**
   * Registers a check. Names are unique: a second check of the same name would silently replace
   * the first (in the single-process mesh every role has a `bus` check), so it throws instead.
   * Roles sharing one Health register through `scope(role)`.
   */
  addCheck(name: string, check: ReadinessCheck): void {
    const full = this.prefix + name;
    if (this.state.checks.has(full)) throw new DuplicateCheckError(`a readiness check named "${full}" is already registered`);
    this.state.checks.set(full, check);
  }

  /** The same Health, with check names prefixed `<role>.`: several roles can share one process. */
  scope(role: string): Health {
    return new Health(this.state, `${this.prefix}${role}.`);
  }

  /** Once draining, readiness fails so load balancers stop sending new clients. */
  startDraining(): void {
    this.state.draining = true;
  }

  isDraining(): boolean {
    return this.state.draining;
  }

  readiness(): { ready: boolean; failing: Record<string, string> } {
    const failing: Record<string, string> = {};
    if (this.state.draining) failing['shutdown'] = 'draining';
    for (const [name, check] of this.state.checks) {
      let result: true | string;
      try {
        result = check();
      } catch (err) {
        result = `check threw: ${(err as Error).message}`;
      }
      if (result !== true) failing[name] = result;
    }
    return { ready: Object.keys(failing).length === 0, failing };
  }

  /** Names of every registered check (diagnostics and tests). */
  checkNames(): string[] {
    return [...this.state.checks.keys()];
  }
}

/** Answers a health path, or returns undefined for other paths. Shared by every HTTP transport. */
export function healthResponse(health: Health, path: string): { status: number; body: string } | undefined {
  if (path === '/healthz') return { status: 200, body: '{"status":"ok"}' };
  if (path === '/readyz') {
    const r = health.readiness();
    return { status: r.ready ? 200 : 503, body: JSON.stringify({ status: r.ready ? 'ready' : 'not ready', failing: r.failing }) };
  }
  return undefined;
}
