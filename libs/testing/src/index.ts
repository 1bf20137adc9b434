export * from './echo-server';
export * from './ports';
export { acceptEchoWebSocket, websocketAccept } from './websocket-echo';
