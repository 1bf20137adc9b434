export * from './echo-server';
export * from './ports';
export { acceptEchoWebSocket, websocketAccept } from './websocket-echo';
export { startGrpcEchoServer } from './grpc-echo-server';
export type { GrpcEchoServer, GrpcEchoServerOptions } from './grpc-echo-server';
