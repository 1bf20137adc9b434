import { request } from 'undici';
import type { PodRuntimeInfo } from '@tendril/workloads';

/** Where the CLI finds the agent's admin API: --agent, else TENDRIL_AGENT, else the default. */
export const DEFAULT_AGENT_ADMIN = '127.0.0.1:9878';

export function agentAdminAddress(flag?: string): string {
  return flag ?? process.env['TENDRIL_AGENT'] ?? DEFAULT_AGENT_ADMIN;
}

/** GETs a JSON document from the agent's admin API, with an error a user can act on. */
export async function getFromAgent<T>(address: string, pathAndQuery: string): Promise<T> {
  let res;
  try {
    res = await request(`http://${address}${pathAndQuery}`, { headersTimeout: 5_000, bodyTimeout: 5_000 });
  } catch (err) {
    throw new Error(`cannot reach the tendril agent at ${address} (${(err as Error).message}); is \`tendril up\` running?`);
  }
  const body = (await res.body.json()) as T & { error?: string };
  if (res.statusCode >= 400) throw new Error(body.error ?? `agent answered ${res.statusCode}`);
  return body;
}

/** Polls until the URL answers 2xx or the deadline passes. */
export async function waitForHttpOk(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    try {
      const res = await request(url, { headersTimeout: 1_000, bodyTimeout: 1_000 });
      await res.body.dump();
      if (res.statusCode < 300) return;
      lastError = `status ${res.statusCode}`;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms: ${lastError}`);
}

/** The pods the agent runs on this node (GET /api/v1/pods), optionally of one namespace. */
export async function listLocalPods(address: string, namespace?: string): Promise<PodRuntimeInfo[]> {
  const query = namespace === undefined ? '' : `?${new URLSearchParams({ namespace })}`;
  return (await getFromAgent<{ items: PodRuntimeInfo[] }>(address, `/api/v1/pods${query}`)).items;
}

/** One pod the agent runs, by namespace and name, with kubectl's error when there is none. */
export async function findLocalPod(address: string, namespace: string, name: string): Promise<PodRuntimeInfo> {
  const [pod] = (await getFromAgent<{ items: PodRuntimeInfo[] }>(address, `/api/v1/pods?${new URLSearchParams({ namespace, name })}`)).items;
  if (!pod) throw new Error(`pods "${name}" not found in namespace "${namespace}"`);
  return pod;
}
