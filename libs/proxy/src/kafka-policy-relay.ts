import type * as net from 'node:net';
import { KafkaRequestSplitter, KafkaWireError, kafkaDenialResponse, type KafkaRequest } from '@tendril/policy';
import type { L7Decision } from './l7-policy';

/**
 * The tendril.kafkapolicy network filter on one connection (Cilium's Kafka parser): the client's
 * bytes are split into request frames and each is checked; an allowed frame goes to the broker
 * unchanged, a denied one never does — the client gets the synthetic TOPIC_AUTHORIZATION_FAILED
 * response where Kafka defines one (kafkaDenialResponse), else nothing. A frame that cannot be
 * parsed closes the connection (INVALID_MESSAGE is logged). The broker's responses pass untouched.
 *
 * Kafka clients match responses to requests by correlation id but expect them in request order on
 * a connection, so an injected denial waits behind the broker's responses to the requests sent
 * before it: the relay keeps the requests in flight in order and writes each denial when
 * everything before it has been answered. (A produce with acks 0 gets no response from the broker
 * and holds nothing up.)
 */

/** What the relay reports per request frame, for the access log. */
export interface KafkaRequestRecord {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
  readonly topics: readonly string[] | 'all';
  readonly decision: L7Decision;
}

export interface KafkaPolicyRelayOptions {
  /** The verdict for one request (the endpoint's NPDS Kafka rules for the remote identity). */
  readonly decide: (request: KafkaRequest) => L7Decision;
  readonly onRequest?: (record: KafkaRequestRecord) => void;
  /** A frame that could not be parsed; the connection is then closed. */
  readonly onInvalid?: (error: KafkaWireError) => void;
}

type InFlight = { readonly kind: 'forwarded'; readonly correlationId: number } | { readonly kind: 'denied'; readonly response: Buffer };

/** Splits the broker's byte stream into response frames (size prefix, then the correlation id). */
class ResponseFrames {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Buffer[] = [];
    while (this.pending.length >= 8) {
      const size = this.pending.readInt32BE(0);
      if (size < 4) throw new KafkaWireError(`invalid response frame size ${size}`);
      if (this.pending.length < 4 + size) break;
      frames.push(this.pending.subarray(0, 4 + size));
      this.pending = this.pending.subarray(4 + size);
    }
    return frames;
  }
}

export class KafkaPolicyRelay {
  private readonly requests = new KafkaRequestSplitter();
  private readonly responses = new ResponseFrames();
  private readonly inFlight: InFlight[] = [];

  constructor(
    private readonly client: net.Socket,
    private readonly broker: net.Socket,
    private readonly options: KafkaPolicyRelayOptions,
  ) {
    client.on('data', (chunk: Buffer) => this.onClientData(chunk));
    broker.on('data', (chunk: Buffer) => this.onBrokerData(chunk));
    // Either side's write backing up pauses the other side's reads.
    client.on('drain', () => broker.resume());
    broker.on('drain', () => client.resume());
    client.once('end', () => broker.end());
    broker.once('end', () => client.end());
  }

  /** The frames `split` completes; undefined (connection closed, error reported) when the stream is not Kafka. */
  private framesOf<T>(split: () => T[]): T[] | undefined {
    try {
      return split();
    } catch (err) {
      if (!(err instanceof KafkaWireError)) throw err;
      this.options.onInvalid?.(err);
      this.client.destroy();
      this.broker.destroy();
      return undefined;
    }
  }

  private onClientData(chunk: Buffer): void {
    const requests = this.framesOf(() => this.requests.push(chunk));
    if (!requests) return;
    for (const request of requests) {
      const decision = this.options.decide(request);
      const { apiKey, apiVersion, clientId, topics } = request.facts;
      this.options.onRequest?.({ apiKey, apiVersion, correlationId: request.correlationId, clientId, topics, decision });
      if (decision.allowed) {
        if (!this.broker.write(request.frame)) this.client.pause();
        if (request.expectsResponse) this.inFlight.push({ kind: 'forwarded', correlationId: request.correlationId });
        continue;
      }
      const response = kafkaDenialResponse(request);
      if (response) this.inFlight.push({ kind: 'denied', response });
    }
    this.writeDenialsDue();
  }

  private onBrokerData(chunk: Buffer): void {
    const frames = this.framesOf(() => this.responses.push(chunk));
    if (!frames) return;
    for (const frame of frames) {
      const correlationId = frame.readInt32BE(4);
      // Denials asked for before this request go first; then the response itself.
      const at = this.inFlight.findIndex((entry) => entry.kind === 'forwarded' && entry.correlationId === correlationId);
      for (const entry of this.inFlight.splice(0, at + 1)) if (entry.kind === 'denied') this.writeToClient(entry.response);
      this.writeToClient(frame);
      this.writeDenialsDue();
    }
  }

  /** Denials with no forwarded request before them are answered now. */
  private writeDenialsDue(): void {
    while (this.inFlight.length > 0 && this.inFlight[0].kind === 'denied') {
      const entry = this.inFlight.shift() as Extract<InFlight, { kind: 'denied' }>;
      this.writeToClient(entry.response);
    }
  }

  private writeToClient(bytes: Buffer): void {
    if (!this.client.write(bytes)) this.broker.pause();
  }
}
