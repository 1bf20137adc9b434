import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';

/** A Kubernetes object as tests build and mutate it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Manifest = Record<string, any>;

/** Parses test/fixtures/<name>.yaml; each call returns a fresh copy the test may mutate. */
export function fixture(name: string): Manifest {
  return parse(fs.readFileSync(path.join(__dirname, 'fixtures', `${name}.yaml`), 'utf8')) as Manifest;
}
