export {
  createTokenVerifier,
  isTokenError,
  MAX_TOKEN_CHARS,
  type TokenError,
  type TokenErrorCode,
  type TokenVerifier,
  type TokenVerifierConfig,
  type VerifiedToken,
  type VerifyResult,
} from './verifier.js';
export {
  ASYMMETRIC_ALGORITHMS,
  HMAC_ALGORITHMS,
  SUPPORTED_ALGORITHMS,
  TokenConfigError,
  type TokenKeySource,
} from './keys.js';
export { DEFAULT_CLAIMS, readClaim, type ClaimNames } from './claims.js';
export { jwtConfigFromEnv, jwtEnvShape, MIN_SECRET_BYTES, refineJwtEnv, type JwtEnv } from './env.js';
export { parseBearer, type BearerLookup } from './bearer.js';
