export * from './echo-server';
export * from './ports';
export { acceptEchoWebSocket, websocketAccept } from './websocket-echo';
export { startGrpcEchoServer } from './grpc-echo-server';
export type { GrpcEchoServer, GrpcEchoServerOptions } from './grpc-echo-server';
export { TCP_ECHO_WELCOME, startTcpEchoServer } from './tcp-echo-server';
export type { TcpEchoAssertions, TcpEchoServer, TcpEchoServerOptions } from './tcp-echo-server';
export { startKafkaTestBroker } from './kafka-broker';
export type { KafkaBrokerRequest, KafkaTestBroker, KafkaTestBrokerOptions } from './kafka-broker';
