/**
 * Bad values are refused before anything is rendered, with a message naming the value: by
 * values.schema.json, or by the templates for rules that span several values.
 */
import { describe, expect, it } from 'vitest';
import { helmTemplate } from './support/chart-tools.js';

describe('values.schema.json and template guards', () => {
  it('accept the defaults', () => {
    expect(helmTemplate().status).toBe(0);
  });

  it.each([
    ['a string where a number belongs', ['edge.replicaCount=two'], "at '/edge/replicaCount': got string, want integer"],
    ['a misspelled key', ['edge.replicas=3'], "at '/edge': additional properties 'replicas' not allowed"],
    ['a misspelled top-level key', ['ingres.enabled=true'], "additional properties 'ingres' not allowed"],
    ['an unknown key source', ['auth.keySource=password'], "at '/auth/keySource'"],
    ['a writable root filesystem', ['containerSecurityContext.readOnlyRootFilesystem=false'], "at '/containerSecurityContext/readOnlyRootFilesystem': value must be true"],
    ['pods as root', ['podSecurityContext.runAsNonRoot=false'], "at '/podSecurityContext/runAsNonRoot': value must be true"],
    ['an idle timeout uWebSockets.js refuses', ['edge.idleTimeoutSeconds=5'], "at '/edge/idleTimeoutSeconds'"],
    ['a NATS URL that is not nats://', ['nats.url=http://nats:4222'], "at '/nats/url'"],
    ['too many KV replicas', ['nats.kvReplicas=7'], "at '/nats/kvReplicas': maximum: got 7, want 5"],
    ['a short HMAC secret', ['secrets.jwtSecret=short'], "at '/secrets/jwtSecret'"],
    ['a short admin token', ['secrets.adminTokens={tooshort}'], "at '/secrets/adminTokens/0'"],
    ['a malformed digest', ['image.digest=sha256:abc'], "at '/image/digest'"],
    ['resources without a memory limit', ['edge.resources.limits=null'], "at '/edge/resources'"],
    ['a token source the edge does not know', ['edge.tokenSources={header,url}'], "at '/edge/tokenSources/1'"],
    ['both PDB fields', ['registry.pdb.maxUnavailable=1'], "at '/registry/pdb'"],
    ['an HTTPRoute without a Gateway', ['gatewayApi.enabled=true'], "at '/gatewayApi/parentRefs': minItems"],
    ['an Ingress path without a slash', ['ingress.hosts[0].host=x', 'ingress.hosts[0].paths[0].path=ws', 'ingress.hosts[0].paths[0].pathType=Prefix'], "at '/ingress/hosts/0/paths/0/path'"],
    ['a sysctl value that is not a string', ['podSecurityContext.sysctls[0].name=net.core.somaxconn', 'podSecurityContext.sysctls[0].value=4096'], "at '/podSecurityContext/sysctls/0/value': got number, want string"],
    ['a grace period inside the drain', ['edge.terminationGracePeriodSeconds=15'], "edge.terminationGracePeriodSeconds (15 s) must be longer than the edge's shutdown (drain delay + spread + flush = 20000 ms)"],
    ['a public key source without a key', ['auth.keySource=publicKey'], 'secrets.jwtPublicKey (a PEM public key) is required'],
    ['NATS credentials without a creds file', ['nats.credentials.enabled=true'], 'secrets.natsCreds (the creds file) is required'],
  ])('refuse %s', (_name, sets, message) => {
    const r = helmTemplate([], sets);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(message);
  });
});
