/**
 * How the NATS bus authenticates and secures its connection: the settings (one auth method at a
 * time, TLS with a CA and an optional client certificate) and their translation into nats.js
 * options. Secrets are read from their files on every (re)connect, so a rotated Kubernetes secret
 * is picked up without a restart; an unreadable file at reconnect time keeps the last good value.
 * Nothing here logs a secret: describeNatsConnection() names the method, never its value.
 */
import { readFileSync } from 'node:fs';
import {
  credsAuthenticator,
  nkeyAuthenticator,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
  type Authenticator,
  type ConnectionOptions,
  type TlsOptions,
} from '@nats-io/nats-core';
import type { BusLogger } from '../logger.js';

/** A secret given inline (from an environment variable) or as a file to read. */
export type SecretSource = { readonly value: string } | { readonly file: string };

export type NatsAuth =
  | { readonly method: 'user-password'; readonly user: string; readonly password: SecretSource }
  | { readonly method: 'token'; readonly token: SecretSource }
  /** A seed file ("SU..."): the server knows the user by its public key. */
  | { readonly method: 'nkey'; readonly seedFile: string }
  /** A creds file (user JWT + seed), for servers in operator (decentralised JWT) mode. */
  | { readonly method: 'creds'; readonly credsFile: string };

export interface NatsTls {
  /** CA bundle the server certificate must chain to; unset = the system's trust store. */
  readonly caFile?: string | undefined;
  /** Client certificate and key, both or neither (mutual TLS). */
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
}

export interface NatsConnectionSettings {
  readonly auth?: NatsAuth | undefined;
  /** Set = TLS required (also implied by a tls:// server URL). */
  readonly tls?: NatsTls | undefined;
}

export class NatsSettingsError extends Error {
  override readonly name = 'NatsSettingsError';
}

const TLS_SCHEME = /^tls:\/\//i;

/** Reads a file on every call; after one good read, a failing read returns that value and warns. */
function fileReader(path: string, what: string, logger: BusLogger | undefined): () => Uint8Array {
  let last: Uint8Array | undefined;
  return () => {
    try {
      last = readFileSync(path);
    } catch (err) {
      if (last === undefined) throw new NatsSettingsError(`cannot read the NATS ${what} file ${path}: ${(err as Error).message}`);
      logger?.warn({ file: path, err: (err as Error).message }, `cannot re-read the NATS ${what} file: using the last value read`);
    }
    return last;
  };
}

function secretReader(source: SecretSource, what: string, logger: BusLogger | undefined): () => string {
  if ('value' in source) return () => source.value;
  const read = fileReader(source.file, what, logger);
  const decoder = new TextDecoder();
  // Files written by `echo` or a secret manager end with a newline that is not part of the secret.
  return () => decoder.decode(read()).trim();
}

function authenticator(auth: NatsAuth, logger: BusLogger | undefined): Authenticator {
  switch (auth.method) {
    case 'user-password':
      return usernamePasswordAuthenticator(auth.user, secretReader(auth.password, 'password', logger));
    case 'token':
      return tokenAuthenticator(secretReader(auth.token, 'token', logger));
    case 'nkey': {
      const read = fileReader(auth.seedFile, 'nkey seed', logger);
      return nkeyAuthenticator(() => new TextEncoder().encode(new TextDecoder().decode(read()).trim()));
    }
    case 'creds':
      return credsAuthenticator(fileReader(auth.credsFile, 'creds', logger));
  }
}

/** Whether the connection must use TLS: settings given, or any server URL is tls://. */
export function natsUsesTls(servers: readonly string[], settings: NatsConnectionSettings | undefined): boolean {
  return settings?.tls !== undefined || servers.some((s) => TLS_SCHEME.test(s));
}

function checkSettings(servers: readonly string[], settings: NatsConnectionSettings | undefined): void {
  const tlsUrls = servers.filter((s) => TLS_SCHEME.test(s)).length;
  if (tlsUrls > 0 && tlsUrls < servers.length) {
    throw new NatsSettingsError('NATS server URLs mix tls:// with other schemes: TLS applies to the whole connection, use tls:// for every server');
  }
  for (const s of servers) {
    if (/^[a-z]+:\/\/[^/@]*@/i.test(s)) throw new NatsSettingsError('NATS server URLs must not carry credentials (user:password@): use the auth settings');
  }
  const tls = settings?.tls;
  if (tls !== undefined && (tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw new NatsSettingsError('a TLS client certificate needs its key and the other way round');
  }
}

/**
 * The nats.js options for `settings`. Throws NatsSettingsError on a combination nats.js would
 * accept but get wrong, and when a secret file cannot be read at all (so a typo fails at start).
 */
export function natsConnectOptions(
  servers: readonly string[],
  settings: NatsConnectionSettings | undefined,
  logger: BusLogger | undefined,
): Pick<ConnectionOptions, 'authenticator' | 'tls'> {
  checkSettings(servers, settings);
  const options: Pick<ConnectionOptions, 'authenticator' | 'tls'> = {};
  if (settings?.auth !== undefined) {
    const auth = authenticator(settings.auth, logger);
    // Read once now: a missing or empty file is a start-up error, not an endless reconnect loop.
    auth(undefined);
    options.authenticator = auth;
  }
  if (natsUsesTls(servers, settings)) {
    const t = settings?.tls;
    const tls: TlsOptions = {};
    // nats.js reads these files on every connect itself.
    if (t?.caFile !== undefined) tls.caFile = t.caFile;
    if (t?.certFile !== undefined) tls.certFile = t.certFile;
    if (t?.keyFile !== undefined) tls.keyFile = t.keyFile;
    for (const [what, file] of [['CA', t?.caFile], ['certificate', t?.certFile], ['key', t?.keyFile]] as const) {
      if (file !== undefined) fileReader(file, `TLS ${what}`, logger)();
    }
    options.tls = tls;
  }
  return options;
}

/** What to log about the connection: the method and TLS mode, never a secret or a file's content. */
export function describeNatsConnection(servers: readonly string[], settings: NatsConnectionSettings | undefined): { auth: string; tls: string } {
  const t = settings?.tls;
  const tls = !natsUsesTls(servers, settings)
    ? 'off'
    : `${t?.caFile !== undefined ? 'ca file' : 'system CAs'}${t?.certFile !== undefined ? ' + client certificate' : ''}`;
  return { auth: settings?.auth?.method ?? 'none', tls };
}
