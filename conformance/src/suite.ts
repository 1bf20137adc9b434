import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { KubeObject } from '@tendril/api-k8s';
import { REPO_ROOT } from '@tendril/control-plane';
import { parseAllDocuments } from 'yaml';

/**
 * The exported upstream suite (manifests and inventory.json) lives beside the repository, in
 * ../shared/gateway-api, on the developers' and CI machines; it is read in place, never copied.
 */
export const DEFAULT_SUITE_DIR = path.resolve(REPO_ROOT, '../shared/gateway-api/conformance');

/** One upstream test as inventory.json describes it (only the fields the runner reads). */
export interface InventoryTest {
  name: string;
  /** Manifests applied for the test, relative to the suite's parent directory (conformance/tests/…). */
  manifests: string[];
  features: string[];
  /** The conformance profiles the test counts in (GATEWAY-HTTP, GATEWAY-GRPC, …). */
  profiles: string[];
  core: boolean;
  provisional: boolean;
  mutatesResourcesAtRuntime: boolean;
  checks: unknown[];
  statusChecks?: string[];
}

export interface SuiteSubstitutions {
  gatewayClassName: string;
  controllerName: string;
}

/** The upstream suite's files: the base fixtures, per-test manifests and the test inventory. */
export class Suite {
  private inventoryCache: InventoryTest[] | undefined;

  constructor(readonly dir: string = DEFAULT_SUITE_DIR) {}

  /** Whether the suite's files are where they are expected (tests skip themselves otherwise). */
  get available(): boolean {
    return existsSync(path.join(this.dir, 'base/manifests.yaml')) && existsSync(this.inventoryFile);
  }

  private get inventoryFile(): string {
    return path.join(this.dir, '../inventory.json');
  }

  inventory(): InventoryTest[] {
    if (!this.inventoryCache) {
      if (!existsSync(this.inventoryFile)) throw new Error(`conformance inventory not found at ${this.inventoryFile}`);
      this.inventoryCache = JSON.parse(readFileSync(this.inventoryFile, 'utf8')) as InventoryTest[];
    }
    return this.inventoryCache;
  }

  test(name: string): InventoryTest {
    const found = this.inventory().find((t) => t.name === name);
    if (!found) throw new Error(`conformance test ${JSON.stringify(name)} is not in ${this.inventoryFile}`);
    return found;
  }

  /** The shared fixtures (namespaces, Gateways, Services, Deployments), placeholders substituted. */
  baseManifests(subs: SuiteSubstitutions): KubeObject[] {
    return this.load('base/manifests.yaml', subs);
  }

  /** All objects a test applies on top of the base, placeholders substituted. */
  testManifests(test: InventoryTest, subs: SuiteSubstitutions): KubeObject[] {
    // inventory.json names files from the upstream repository root (conformance/tests/…).
    return test.manifests.flatMap((m) => this.load(m.replace(/^conformance\//, ''), subs));
  }

  /** The objects of one manifest file of the suite (relative to its directory, e.g. mesh/manifests.yaml). */
  manifests(relative: string, subs: SuiteSubstitutions = { gatewayClassName: '', controllerName: '' }): KubeObject[] {
    return this.load(relative, subs);
  }

  private load(relative: string, subs: SuiteSubstitutions): KubeObject[] {
    const file = path.join(this.dir, relative);
    if (!existsSync(file)) throw new Error(`conformance manifest not found: ${file}`);
    const text = readFileSync(file, 'utf8')
      .replaceAll('{GATEWAY_CLASS_NAME}', subs.gatewayClassName)
      .replaceAll('{GATEWAY_CONTROLLER_NAME}', subs.controllerName);
    const objects: KubeObject[] = [];
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0].message}`);
      const obj = doc.toJS() as KubeObject | null;
      if (obj && typeof obj === 'object') objects.push(obj);
    }
    // The upstream applier gives every GatewayClass the tested controller.
    for (const o of objects) if (o.kind === 'GatewayClass') o.spec = { ...(o.spec as object | undefined), controllerName: subs.controllerName };
    return objects;
  }
}
