/**
 * Local replies to gRPC requests are gRPC responses, as Envoy sends them: HTTP 200, trailers-only,
 * grpc-status mapped from the HTTP status (403 → 7 PERMISSION_DENIED, 404 → 12 UNIMPLEMENTED,
 * 503 → 14 UNAVAILABLE) and the body as the percent-encoded grpc-message.
 */
import * as grpc from '@grpc/grpc-js';
import * as http2 from 'node:http2';
import { httpListener, ProxyHarness, routeConfig, vhost } from './fixtures';

describe('gRPC-aware local replies', () => {
  const h = new ProxyHarness();
  afterAll(() => h.close());

  beforeAll(() =>
    h.apply({
      listeners: [httpListener('l', 'rc')],
      routes: [
        routeConfig('rc', [
          vhost('v', ['*'], [
            { match: { prefix: '/denied.' }, direct_response: { status: 403, body: { inline_string: 'Access denied\r\n' } } },
            { match: { prefix: '/nowhere.' }, route: { cluster: 'no-endpoints' } },
          ]),
        ]),
      ],
      clusters: [{ name: 'no-endpoints', type: 'STATIC', load_assignment: { cluster_name: 'no-endpoints', endpoints: [] } }],
    }),
  );

  it('sends trailers-only HTTP/2 with grpc-status and the percent-encoded message', async () => {
    const session = http2.connect(`http://127.0.0.1:${h.port}`);
    try {
      const stream = session.request({ ':method': 'POST', ':path': '/denied.Service/Method', 'content-type': 'application/grpc', te: 'trailers' });
      stream.end();
      const { headers, endedWithHeaders } = await new Promise<{ headers: http2.IncomingHttpHeaders; endedWithHeaders: boolean }>((resolve, reject) => {
        stream.once('response', (h2, flags) => resolve({ headers: h2, endedWithHeaders: (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0 }));
        stream.once('error', reject);
      });
      expect(headers).toMatchObject({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '7', 'grpc-message': 'Access denied%0D%0A' });
      expect(endedWithHeaders).toBe(true);
    } finally {
      session.close();
    }
  });

  it('a grpc-js client sees PERMISSION_DENIED, UNIMPLEMENTED (no route) and UNAVAILABLE (no endpoint)', async () => {
    const client = new grpc.Client(`127.0.0.1:${h.port}`, grpc.credentials.createInsecure());
    const call = (path: string) =>
      new Promise<grpc.ServiceError>((resolve) => {
        client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), (err) => resolve(err as grpc.ServiceError));
      });
    try {
      const denied = await call('/denied.Service/Method');
      expect({ code: denied.code, details: denied.details }).toEqual({ code: grpc.status.PERMISSION_DENIED, details: 'Access denied\r\n' });
      expect((await call('/unknown.Service/Method')).code).toBe(grpc.status.UNIMPLEMENTED);
      expect((await call('/nowhere.Service/Method')).code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      client.close();
    }
    // The access log has what went on the wire: HTTP 200.
    expect(h.accessLog.find((e) => e.path === '/denied.Service/Method')).toMatchObject({ response_code: 200, protocol: 'HTTP/2' });
  });

  it('plain HTTP requests keep the HTTP local reply', async () => {
    const response = await h.request('/denied.x');
    expect({ status: response.status, text: response.text }).toEqual({ status: 403, text: 'Access denied\r\n' });
  });
});
