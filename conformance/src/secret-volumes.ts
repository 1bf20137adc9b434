import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { KubeObject } from '@tendril/api-k8s';

interface SecretVolume {
  name: string;
  secret?: { secretName?: string; items?: Array<{ key: string; path: string }> };
  configMap?: { name?: string; items?: Array<{ key: string; path: string }> };
}

interface Container {
  name?: string;
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}

interface PodTemplateSpec {
  template?: { spec?: { volumes?: SecretVolume[]; containers?: Container[] } };
}

/**
 * The echo pods read their certificates from Secret volumes (TLS_SERVER_CERT=/etc/secret-volume/crt).
 * Pods here are processes on the host, with no mount namespace to put a volume in, so each Secret
 * volume a Deployment mounts is written out as files in `dir` (one directory per Deployment and
 * volume, the items' paths inside), and every environment value under the mount path is pointed
 * there instead. Returns the Deployments so changed; other objects come back as they are.
 * ConfigMap volumes (a CA bundle the echo checks client certificates against, coredns's Corefile)
 * are written the same way, and container args under the mount path (coredns's `-conf
 * /root/Corefile`) are pointed there too. A volume naming a Secret or ConfigMap that neither
 * `secrets` nor `objects` holds is an error, as a pod stuck in ContainerCreating is.
 */
export function withSecretVolumeFiles(objects: readonly KubeObject[], secrets: readonly KubeObject[], dir: string): KubeObject[] {
  /** The volume source's files: Secret data is base64, ConfigMap data is text. */
  const sourceData = (kind: 'Secret' | 'ConfigMap', namespace: string, name: string): Record<string, Buffer> | undefined => {
    const found = [...secrets, ...objects].find((s) => s.kind === kind && (s.metadata.namespace ?? 'default') === namespace && s.metadata.name === name) as (KubeObject & { data?: Record<string, string> }) | undefined;
    if (!found?.data) return undefined;
    return Object.fromEntries(Object.entries(found.data).map(([k, v]) => [k, kind === 'Secret' ? Buffer.from(v, 'base64') : Buffer.from(v)]));
  };
  return objects.map((o) => {
    const spec = o.spec as PodTemplateSpec | undefined;
    const volumes = (spec?.template?.spec?.volumes ?? []).filter((v) => v.secret?.secretName || v.configMap?.name);
    if (o.kind !== 'Deployment' || volumes.length === 0) return o;
    const namespace = o.metadata.namespace ?? 'default';
    const copy = structuredClone(o);
    const podSpec = (copy.spec as PodTemplateSpec).template?.spec ?? {};
    const volumeDirs = new Map<string, string>();
    for (const volume of volumes) {
      const kind = volume.secret ? 'Secret' : 'ConfigMap';
      const sourceName = volume.secret?.secretName ?? volume.configMap?.name ?? '';
      const data = sourceData(kind, namespace, sourceName);
      if (!data) throw new Error(`Deployment ${namespace}/${o.metadata.name} mounts ${kind} ${namespace}/${sourceName}, which the conformance setup does not make`);
      const volumeDir = path.join(dir, namespace, o.metadata.name ?? '', volume.name);
      const items = (volume.secret ?? volume.configMap)?.items ?? Object.keys(data).map((key) => ({ key, path: key }));
      for (const item of items) {
        if (data[item.key] === undefined) throw new Error(`Deployment ${namespace}/${o.metadata.name}: ${kind} ${namespace}/${sourceName} has no key ${item.key}`);
        const file = path.join(volumeDir, item.path);
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, data[item.key], { mode: 0o600 });
      }
      volumeDirs.set(volume.name, volumeDir);
    }
    for (const container of podSpec.containers ?? []) {
      for (const mount of container.volumeMounts ?? []) {
        const volumeDir = volumeDirs.get(mount.name);
        if (!volumeDir) continue;
        const prefix = mount.mountPath.replace(/\/$/, '');
        const underMount = (value: string | undefined): value is string => value === prefix || value?.startsWith(`${prefix}/`) === true;
        for (const env of container.env ?? []) {
          if (underMount(env.value)) env.value = `${volumeDir}${env.value.slice(prefix.length)}`;
        }
        if (container.args) container.args = container.args.map((arg) => (underMount(arg) ? `${volumeDir}${arg.slice(prefix.length)}` : arg));
      }
    }
    return copy;
  });
}
