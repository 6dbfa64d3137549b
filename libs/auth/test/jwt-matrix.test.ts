/**
 * The JWT attack matrix at unit level: every case of every key setup through both verification
 * paths - the synchronous fast path (verifySync, and verify on top of it) and jose alone
 * (fastPath: false) - which must give the expected answer, the same in both. Prints its counts.
 */
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier, isTokenError, type TokenVerifier, type VerifyResult } from '@session-mesh/auth';
import { AUDIENCE, buildJwtSetups, CLOCK_TOLERANCE_S, ISSUER, matrixLine, type JwksState, type JwtSetup } from '../../../test/security/support/jwt-cases.js';
import { JwksServer } from '../../../test/security/support/jwt-jwks-server.js';

const jwks = new JwksServer();
let setups: JwtSetup[];

beforeAll(async () => {
  await jwks.start();
  setups = buildJwtSetups(jwks);
});
afterAll(() => jwks.stop());

async function enter(state: JwksState): Promise<void> {
  jwks.delayMs = state === 'slow' ? 2500 : 0; // past the setup's 1 s fetch timeout
  if (state === 'dead') await jwks.stop();
  else await jwks.start();
}

const answer = (r: VerifyResult | undefined) => (r === undefined ? 'undecided' : isTokenError(r) ? r.error : 'accept');

describe.each(['HS', 'RS', 'ES', 'EdDSA', 'JWKS'])('JWT matrix, %s setup', (name) => {
  it('gives the expected answer on both paths for every case', async () => {
    const setup = setups.find((s) => s.name === name)!;
    const config = { key: setup.key, issuer: ISSUER, audience: AUDIENCE, clockToleranceS: CLOCK_TOLERANCE_S };
    const fast: TokenVerifier = await createTokenVerifier(config);
    const jose: TokenVerifier = await createTokenVerifier({ ...config, fastPath: false });
    const wrong: string[] = [];
    let accepted = 0;
    let refused = 0;
    let undecided = 0;
    const cases = setup.cases();
    for (const c of cases) {
      await enter(c.jwks ?? 'up');
      const sync = fast.verifySync(c.token);
      const viaFast = await fast.verify(c.token);
      const viaJose = await jose.verify(c.token);
      if (sync === undefined) undecided++;
      const answers = { verifySync: answer(sync), verify: answer(viaFast), jose: answer(viaJose) };
      const agree =
        answers.verify === c.expect &&
        answers.jose === c.expect &&
        (sync === undefined || answers.verifySync === c.expect) &&
        (c.expect !== 'accept' || (isDeepStrictEqual(viaFast, viaJose) && (sync === undefined || isDeepStrictEqual(sync, viaJose))));
      if (!agree) wrong.push(`${c.name}: expected ${c.expect}, got ${JSON.stringify(answers)} (${isTokenError(viaJose) ? viaJose.message : 'accepted'})`);
      if (answers.jose === 'accept') accepted++;
      else refused++;
    }
    await enter('up');
    console.log(`${matrixLine('unit, verifySync + verify + jose', setup.name, { cases: cases.length, accepted, refused, wrong: wrong.length })}, left to jose by verifySync ${undecided}`);
    expect(wrong).toEqual([]);
    // With a static key the edge always answers inside uWS's upgrade handler.
    if (setup.name !== 'JWKS') expect(undecided).toBe(0);
    expect(accepted).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(accepted);
  });
});
