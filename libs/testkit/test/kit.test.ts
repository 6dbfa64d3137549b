import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jwtVerify } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, mintToken, readNatsPorts, stopChild, tcpReachable, TEST_JWT_SECRET, waitFor } from '@session-mesh/testkit';

describe('waitFor', () => {
  it('treats false, null and undefined as "not yet" and returns the first other value, 0 included', async () => {
    const answers = [false, null, undefined, 0];
    expect(await waitFor(() => answers.shift(), { intervalMs: 1 })).toBe(0);
    expect(answers).toEqual([]);
  });

  it('ends at once with the error abort returns, without calling the condition again', async () => {
    let calls = 0;
    const gone = new Error('the process exited');
    const condition = (): undefined => {
      calls++;
      return undefined;
    };
    await expect(waitFor(condition, { intervalMs: 1, abort: () => (calls >= 2 ? gone : undefined) })).rejects.toBe(gone);
    expect(calls).toBe(2);
  });

  it('throws timeoutError with the last error the condition threw', async () => {
    const err = await waitFor(
      () => {
        throw new Error('refused');
      },
      { timeoutMs: 30, intervalMs: 5, timeoutError: (last) => new Error(`custom: ${(last as Error).message}`) },
    ).catch((e: unknown) => e as Error);
    expect(err.message).toBe('custom: refused');
  });

  it('names what it waited for by default', async () => {
    await expect(waitFor(() => false, { timeoutMs: 20, intervalMs: 5, what: 'the moon' })).rejects.toThrow('timed out after 20 ms waiting for the moon');
  });
});

describe('ports and probes', () => {
  it('tcpReachable tells a listening port from a closed one', async () => {
    const server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const open = (server.address() as { port: number }).port;
    expect(await tcpReachable(open)).toBe(true);
    await new Promise<void>((r) => server.close(() => r()));
    expect(await tcpReachable(open)).toBe(false);
    expect(await tcpReachable(await freePort())).toBe(false);
  });
});

describe('readNatsPorts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'testkit-ports-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads only the given pid's file, and waits while it is half written", () => {
    writeFileSync(join(dir, 'nats-server_111.ports'), JSON.stringify({ nats: ['nats://127.0.0.1:4001'], monitoring: ['http://127.0.0.1:8001'] }));
    writeFileSync(join(dir, 'nats-server_222.ports'), '{"nats": ["nats://127.0.0.1:40');
    expect(readNatsPorts(dir, 111)).toEqual({ client: 4001, monitor: 8001 });
    expect(readNatsPorts(dir, 222)).toBeUndefined();
    expect(readNatsPorts(dir, 333)).toBeUndefined();
    writeFileSync(join(dir, 'nats-server_222.ports'), JSON.stringify({ nats: ['tls://127.0.0.1:4002'] }));
    expect(readNatsPorts(dir, 222)).toEqual({ client: 4002, monitor: undefined });
  });
});

describe('mintToken', () => {
  it('signs HS256 with the test secret: sub, jti, iat, exp as asked, typ JWT', async () => {
    const token = await mintToken({ sub: 'u1', jti: 's1', iat: 1000, expiresInS: 60, roles: ['a'] });
    const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode(TEST_JWT_SECRET), { currentDate: new Date(1_010_000) });
    expect(protectedHeader).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(payload).toEqual({ roles: ['a'], sub: 'u1', jti: 's1', iat: 1000, exp: 1060 });
  });
});

describe('stopChild', () => {
  const start = (script: string) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    const exited = once(child, 'exit');
    const listening = once(child.stdout, 'data'); // the child says when its SIGTERM handler is in place
    return { child, exited, listening };
  };

  it('stops a child that honours the signal with that signal', async () => {
    const { child, exited, listening } = start("process.on('SIGTERM', () => process.exit(7)); console.log('up'); setInterval(() => {}, 1000);");
    await listening;
    await stopChild(child, exited, 'SIGTERM', 10_000);
    expect(child.exitCode).toBe(7);
  });

  it('SIGKILLs a child that ignores the signal once the grace period is over', async () => {
    const { child, exited, listening } = start("process.on('SIGTERM', () => {}); console.log('up'); setInterval(() => {}, 1000);");
    await listening;
    await stopChild(child, exited, 'SIGTERM', 100);
    expect(child.signalCode).toBe('SIGKILL');
  });
});
