import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const PREFIX = 'a.';
const RANDOM_BYTES = 12;
const MAC_BYTES = 16;

/**
 * Anonymous visitors are identified by their client id alone, so that id must be unforgeable:
 * the edge issues `a.<random>.<mac>` (HMAC-SHA256 of the random part under a secret shared by
 * every edge) in the welcome frame, and accepts back only ids it could have issued. A tab that
 * presents someone else's id must have stolen it; it can never guess one.
 */
export class AnonymousIds {
  constructor(private readonly secret: Buffer) {}

  issue(): string {
    const random = randomBytes(RANDOM_BYTES).toString('base64url');
    return `${PREFIX}${random}.${this.mac(random)}`;
  }

  /** Whether this id was issued under our secret. */
  verify(id: string): boolean {
    if (!id.startsWith(PREFIX)) return false;
    const dot = id.indexOf('.', PREFIX.length);
    if (dot < 0) return false;
    const random = id.slice(PREFIX.length, dot);
    const given = Buffer.from(id.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.mac(random), 'base64url');
    return random.length > 0 && given.length === expected.length && timingSafeEqual(given, expected);
  }

  private mac(random: string): string {
    return createHmac('sha256', this.secret).update(random).digest().subarray(0, MAC_BYTES).toString('base64url');
  }
}
