import { describe, expect, it } from 'vitest';
import { cookieValue, findToken, originAllowed, queryParam, selectSubprotocol, type CapturedRequest } from '../src/admission/token-source.js';

const base: CapturedRequest = {
  url: '/',
  query: '',
  origin: '',
  authorization: '',
  protocols: '',
  cookie: '',
  secWebSocketKey: 'k',
  secWebSocketExtensions: '',
};
const all = { sources: ['header', 'protocol', 'query', 'cookie'] as const, queryParam: 'token', cookie: 'mesh_token' };

describe('findToken', () => {
  it('reads each source', () => {
    expect(findToken({ ...base, authorization: 'Bearer abc.def.ghi' }, all)).toEqual({ kind: 'found', token: 'abc.def.ghi', source: 'header' });
    expect(findToken({ ...base, authorization: 'bearer   xyz ' }, all)).toEqual({ kind: 'found', token: 'xyz', source: 'header' });
    expect(findToken({ ...base, protocols: 'session-mesh.v1, bearer.a.b.c' }, all)).toEqual({ kind: 'found', token: 'a.b.c', source: 'protocol' });
    expect(findToken({ ...base, query: 'client=x&token=t%2Eu' }, all)).toEqual({ kind: 'found', token: 't.u', source: 'query' });
    expect(findToken({ ...base, cookie: 'a=1; mesh_token=c.d.e; b=2' }, all)).toEqual({ kind: 'found', token: 'c.d.e', source: 'cookie' });
  });

  it('follows the configured order', () => {
    const req = { ...base, authorization: 'Bearer from-header', query: 'token=from-query' };
    expect(findToken(req, all)).toMatchObject({ token: 'from-header' });
    expect(findToken(req, { ...all, sources: ['query', 'header'] })).toMatchObject({ token: 'from-query' });
    expect(findToken(req, { ...all, sources: ['cookie'] })).toEqual({ kind: 'missing' });
  });

  it('reports a present but malformed source instead of falling through', () => {
    expect(findToken({ ...base, authorization: 'Basic dXNlcjpwYXNz', query: 'token=t' }, all)).toMatchObject({ kind: 'malformed', source: 'header' });
    expect(findToken({ ...base, authorization: 'Bearer a b' }, all)).toMatchObject({ kind: 'malformed' });
    expect(findToken({ ...base, protocols: 'bearer.' }, all)).toMatchObject({ kind: 'malformed', source: 'protocol' });
    expect(findToken({ ...base, query: 'token=' }, all)).toMatchObject({ kind: 'malformed', source: 'query' });
    expect(findToken({ ...base, cookie: 'mesh_token=' }, all)).toMatchObject({ kind: 'malformed', source: 'cookie' });
  });

  it('uses configured names', () => {
    const opts = { ...all, queryParam: 'jwt', cookie: 'auth' };
    expect(findToken({ ...base, query: 'token=no&jwt=yes' }, opts)).toMatchObject({ token: 'yes' });
    expect(findToken({ ...base, cookie: 'mesh_token=no; auth=yes' }, opts)).toMatchObject({ token: 'yes' });
  });
});

describe('helpers', () => {
  it('echoes only session-mesh.v1', () => {
    expect(selectSubprotocol('bearer.x, session-mesh.v1')).toBe('session-mesh.v1');
    expect(selectSubprotocol('bearer.x')).toBe('');
    expect(selectSubprotocol('')).toBe('');
  });

  it('parses queries and cookies defensively', () => {
    expect(queryParam('a=1&client=tab%201', 'client')).toBe('tab 1');
    expect(queryParam('', 'client')).toBeUndefined();
    expect(cookieValue('x="quoted%20v"', 'x')).toBe('quoted v');
    expect(cookieValue('x=%E0%A4%A', 'x')).toBe('%E0%A4%A');
    expect(cookieValue('xx=1', 'x')).toBeUndefined();
  });

  it('checks origins', () => {
    expect(originAllowed('', ['https://a.example'])).toBe(true);
    expect(originAllowed('https://A.example/', ['https://a.example'])).toBe(true);
    expect(originAllowed('https://b.example', ['https://a.example'])).toBe(false);
    expect(originAllowed('https://b.example', undefined)).toBe(true);
  });
});
