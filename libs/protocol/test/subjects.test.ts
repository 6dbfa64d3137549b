import { describe, expect, it } from 'vitest';
import { createSubjects, encodeId, parseSubject, subjectHead, type SubjectTarget } from '@session-mesh/protocol';

const s = createSubjects('acme.mesh');

describe('parseSubject', () => {
  const id = 'alice.smith@example.com *>';
  const cases: Array<[string, SubjectTarget]> = [
    [s.pushUser(id), { kind: 'push-user', user: id }],
    [s.pushSession(id), { kind: 'push-session', session: id }],
    [s.pushBroadcast(), { kind: 'push-all' }],
    [s.killUser(id), { kind: 'kill-user', user: id }],
    [s.killSession(id), { kind: 'kill-session', session: id }],
    [s.killConnection('edge-1-2z'), { kind: 'kill-conn', conn: 'edge-1-2z' }],
    [s.inbound('chat_v2-x'), { kind: 'inbound', topic: 'chat_v2-x' }],
    [s.eventConnect(), { kind: 'event-connect' }],
    [s.eventDisconnect(), { kind: 'event-disconnect' }],
    [s.eventHeartbeat(), { kind: 'event-heartbeat' }],
    [s.eventSnapshot(), { kind: 'event-snapshot' }],
    [s.snapshotRequestAll(), { kind: 'snapshot-request-all' }],
    [s.snapshotRequestEdge('edge.7'), { kind: 'snapshot-request-edge', edge: 'edge.7' }],
    [s.presence(id), { kind: 'presence', user: id }],
    [s.registryUser(id), { kind: 'registry-user', user: id }],
    [s.registrySession(id), { kind: 'registry-session', session: id }],
    [s.registryStats(), { kind: 'registry-stats' }],
  ];

  it.each(cases)('parses %s back', (subject, target) => {
    expect(parseSubject('acme.mesh', subject)).toEqual(target);
    expect(s.parse(subject)).toEqual(target);
  });

  it('refuses what the scheme cannot produce', () => {
    for (const subject of [
      'other.push.user.YWxpY2U', // another prefix
      'acme.mesh', // the prefix alone
      'acme.meshy.push.all', // a prefix that only starts the same
      'acme.mesh.push.user.', // no token
      'acme.mesh.push.user.a.b', // two tokens
      'acme.mesh.push.user.not!base64',
      'acme.mesh.push.user.YWxpY2V', // not canonical
      `acme.mesh.push.user.${Buffer.from('a\nb').toString('base64url')}`, // an id the rule refuses
      'acme.mesh.push.client.YWxpY2U', // there is no per-client subject
      'acme.mesh.push.all.x',
      'acme.mesh.kill.>', // the wildcard an edge subscribes to is not a target
      'acme.mesh.kill.planet.YWxpY2U',
      'acme.mesh.in.a.b',
      `acme.mesh.in.${'t'.repeat(65)}`,
      'acme.mesh.in.',
      'acme.mesh.edge.snapshot',
      'acme.mesh.edge..snapshot',
      'acme.mesh.events.other',
      'acme.mesh.registry.stats.x',
      'acme.mesh.presence.*',
    ]) {
      expect(parseSubject('acme.mesh', subject), subject).toBeUndefined();
    }
  });

  it('gives the head of every kind that ends in an id, matching the subjects built', () => {
    expect(subjectHead('acme.mesh', 'push-user')).toBe('acme.mesh.push.user.');
    expect(s.head('push-session')).toBe('acme.mesh.push.session.');
    const built: Record<Parameters<typeof subjectHead>[1], string> = {
      'push-user': s.pushUser('x'),
      'push-session': s.pushSession('x'),
      'durable-user': s.durableUser('x'),
      'durable-session': s.durableSession('x'),
      'kill-user': s.killUser('x'),
      'kill-session': s.killSession('x'),
      'kill-conn': s.killConnection('x'),
      presence: s.presence('x'),
      'registry-user': s.registryUser('x'),
      'registry-session': s.registrySession('x'),
    };
    for (const [kind, subject] of Object.entries(built) as Array<[keyof typeof built, string]>) {
      expect(subject).toBe(s.head(kind) + encodeId('x'));
    }
  });
});
