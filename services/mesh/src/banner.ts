/** What a newcomer sees after `npm run quickstart`: where to connect and three commands to try. */
export function quickStartBanner(o: {
  edgePort: number;
  adminPort: number;
  opsPort: number;
  bus: string;
  devSecret: boolean;
  adminToken: string | undefined;
}): string {
  const admin = o.adminToken ?? '<one of MESH_ADMIN_TOKENS>';
  const tokenCmd = o.devSecret ? 'npm run -s token -- --user alice' : 'npm run -s token -- --user alice --secret "$MESH_JWT_SECRET"';
  return `
  Session Mesh is running: edge, registry and admin API in one process (${o.bus}).

  WebSocket   ws://127.0.0.1:${o.edgePort}    subprotocol session-mesh.v1 (docs/protocol.md)
  Admin API   http://127.0.0.1:${o.adminPort}   OpenAPI at /openapi.json
  Ops         http://127.0.0.1:${o.opsPort}   /healthz /readyz /stats (internal: do not expose)
  Admin token ${admin}${o.devSecret ? '\n  Dev secrets .mesh-dev/ (JWT signing secret and admin token, created on first run)' : ''}

  In another terminal:
    1. mint a token for user alice:
         TOKEN=$(${tokenCmd})
    2. connect a client that prints what it receives:
         npm run -s client -- --url ws://127.0.0.1:${o.edgePort} --token "$TOKEN"
    3. push to alice through the admin API:
         curl -X POST -H 'Authorization: Bearer ${admin}' --data 'hello alice' http://127.0.0.1:${o.adminPort}/v1/users/alice/push

  Ctrl-C stops the mesh.
`;
}
