/**
 * Resume state of durable pushes (docs/protocol.md section 6, docs/delivery.md): the tab's
 * (epoch, position), kept beside its client id, sent on every reconnect, never going down within
 * an epoch. Pure logic plus a storage adapter; the client feeds it frames.
 */
import { isValidEpoch, parseResumePoint } from '@session-mesh/protocol';
import type { StorageLike } from './types.js';

function isPosition(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isEpoch(value: unknown): value is string {
  return typeof value === 'string' && isValidEpoch(value);
}

export interface ResumePoint {
  readonly epoch: string;
  readonly position: number;
}

/** What a welcome's durable fields mean for the client. */
export type WelcomeResume =
  | { readonly kind: 'none' }
  /** The missed pushes follow (replay), then a `position` frame. */
  | { readonly kind: 'recovered'; readonly point: ResumePoint }
  /** Start over from the welcome's point; `lost` when the client had sent a position (pushes may be missing). */
  | { readonly kind: 'restart'; readonly point: ResumePoint; readonly lost: boolean };

export class ResumeState {
  private point: ResumePoint | undefined;
  /** Between a recovered welcome and its `position` frame: pushes are replayed ones. */
  replaying = false;

  constructor(
    private readonly storage: StorageLike | null,
    private readonly key: string,
  ) {
    this.point = this.load();
  }

  /** The (epoch, position) to send on the next connect, if any. */
  get current(): ResumePoint | undefined {
    return this.point;
  }

  /** Reads the durable fields of a welcome (absent when the edge has no durable pushes). */
  onWelcome(welcome: { epoch?: unknown; position?: unknown; recovered?: unknown }, sentPosition: boolean): WelcomeResume {
    this.replaying = false;
    if (!isEpoch(welcome.epoch) || !isPosition(welcome.position)) return { kind: 'none' };
    if (welcome.recovered === true && sentPosition && this.point !== undefined && this.point.epoch === welcome.epoch) {
      this.replaying = true;
      return { kind: 'recovered', point: this.point };
    }
    this.set({ epoch: welcome.epoch, position: welcome.position });
    return { kind: 'restart', point: this.point!, lost: sentPosition };
  }

  /** A DURABLE_PUSH at `position`: true to deliver it, false for a duplicate (not above the stored position). */
  accept(position: number): boolean {
    const point = this.point;
    if (point === undefined) return true; // an edge without a welcome epoch: nothing to compare with
    if (position <= point.position) return false;
    this.set({ epoch: point.epoch, position });
    return true;
  }

  /** The `position` frame that ends a replay: everything up to `position` is here. */
  onPositionFrame(position: unknown): void {
    this.replaying = false;
    const point = this.point;
    if (point !== undefined && isPosition(position) && position > point.position) this.set({ epoch: point.epoch, position });
  }

  clear(): void {
    this.point = undefined;
    this.replaying = false;
    try {
      this.storage?.removeItem?.(this.key);
    } catch {
      // memory only
    }
  }

  private set(point: ResumePoint): void {
    this.point = point;
    try {
      // Written through: a reload must resume from the last push shown, not from an older one.
      this.storage?.setItem(this.key, `${point.epoch} ${point.position}`);
    } catch {
      // Storage can throw (quota, privacy modes): the point then lives in memory only.
    }
  }

  private load(): ResumePoint | undefined {
    let stored: string | null | undefined;
    try {
      stored = this.storage?.getItem(this.key);
    } catch {
      return undefined;
    }
    if (typeof stored !== 'string') return undefined;
    const [epoch, position] = stored.split(' ');
    const point = parseResumePoint(position, epoch);
    return typeof point === 'object' ? point : undefined;
  }
}
