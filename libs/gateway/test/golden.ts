import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import type { KubeObject } from '@tendril/api-k8s';
import { translate, type TranslateOptions, type TranslateResult } from '../src';

export const TESTDATA = join(__dirname, 'testdata');
export const CONTROLLER_NAME = 'tendril.io/gateway-controller';
export const NOW = '2026-01-01T00:00:00Z';
/** Options every case starts from; a case's options.yaml overrides them. */
export const DEFAULT_OPTIONS: TranslateOptions = { defaultAddress: '127.0.0.1' };

export interface GoldenCase {
  name: string;
  dir: string;
}

export function goldenCases(): GoldenCase[] {
  return readdirSync(TESTDATA, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(TESTDATA, d.name, 'input.yaml')))
    .map((d) => ({ name: d.name, dir: join(TESTDATA, d.name) }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

export function readInput(dir: string): KubeObject[] {
  const docs = parseAllDocuments(readFileSync(join(dir, 'input.yaml'), 'utf8'));
  return docs.map((d) => {
    if (d.errors.length > 0) throw new Error(`${dir}/input.yaml: ${d.errors[0].message}`);
    return d.toJS() as KubeObject;
  }).filter((d) => d !== null && typeof d === 'object');
}

export function runCase(dir: string): TranslateResult {
  const optionsFile = join(dir, 'options.yaml');
  const options = existsSync(optionsFile) ? { ...DEFAULT_OPTIONS, ...(parse(readFileSync(optionsFile, 'utf8')) as TranslateOptions) } : DEFAULT_OPTIONS;
  return translate({ resources: readInput(dir), controllerName: CONTROLLER_NAME, now: NOW, options });
}

/** What a golden output.yaml holds: the Envoy resources and the status updates. */
export function goldenView(result: TranslateResult): { envoy: unknown; statuses: unknown } {
  return JSON.parse(JSON.stringify({ envoy: result.envoy, statuses: result.statuses }));
}

export function readGolden(dir: string): unknown {
  const file = join(dir, 'output.yaml');
  return existsSync(file) ? parse(readFileSync(file, 'utf8')) : undefined;
}

export function writeGolden(dir: string, view: unknown): void {
  writeFileSync(join(dir, 'output.yaml'), stringify(view, { lineWidth: 0, aliasDuplicateObjects: false }));
}
