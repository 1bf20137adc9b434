/**
 * Hand-written validation of the core Kubernetes kinds Tendril reads, following the API server's
 * rules (pkg/apis/core/validation) for the fields Tendril relies on, with the API server's wording.
 */
import { duplicate, forbidden, index, invalid, required, unsupported } from './field-errors';
import { groupOf } from './meta';
import {
  configMapKeyErrors,
  dns1035LabelErrors,
  dns1123LabelErrors,
  dns1123SubdomainErrors,
  labelValueErrors,
  portNameErrors,
  qualifiedNameErrors,
} from './names';
import type { FieldError } from './types';

type Obj = Record<string, unknown>;

export interface ObjectMetaRules {
  /** Whether the kind lives in a namespace (cluster-scoped kinds must not set metadata.namespace). */
  namespaced: boolean;
  /** Syntax the kind requires of its name; DNS-1123 subdomain unless stated. */
  nameErrors?: (name: string) => string[];
}

interface CoreKind extends ObjectMetaRules {
  validate?: (obj: Obj) => FieldError[];
}

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function expectObject(v: unknown, path: string, errors: FieldError[]): v is Obj {
  if (v === undefined) return false;
  if (!isObject(v)) {
    errors.push(invalid(path, v, 'must be an object'));
    return false;
  }
  return true;
}

function expectArray(v: unknown, path: string, errors: FieldError[]): v is unknown[] {
  if (v === undefined) return false;
  if (!Array.isArray(v)) {
    errors.push(invalid(path, v, 'must be a list'));
    return false;
  }
  return true;
}

function syntax(path: string, value: unknown, check: (s: string) => string[], errors: FieldError[]): void {
  if (typeof value !== 'string') {
    errors.push(invalid(path, value, 'must be a string'));
    return;
  }
  for (const message of check(value)) errors.push(invalid(path, value, message));
}

function validatePortNumber(path: string, value: unknown, errors: FieldError[]): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    errors.push(invalid(path, value, 'must be between 1 and 65535, inclusive'));
  }
}

const protocols = ['SCTP', 'TCP', 'UDP'] as const;

function validateProtocol(path: string, value: unknown, errors: FieldError[]): void {
  if (value !== undefined && !(protocols as readonly unknown[]).includes(value)) errors.push(unsupported(path, value, protocols));
}

function validateStringMap(path: string, value: unknown, errors: FieldError[], keyErrors?: (k: string) => string[], valueErrors?: (v: string) => string[]): void {
  if (!expectObject(value, path, errors)) return;
  for (const [k, v] of Object.entries(value)) {
    if (keyErrors) for (const message of keyErrors(k)) errors.push(invalid(path, k, message));
    if (typeof v !== 'string') errors.push(invalid(index(path, k), v, 'must be a string'));
    else if (valueErrors) for (const message of valueErrors(v)) errors.push(invalid(index(path, k), v, message));
  }
}

/**
 * Checks metadata the way the API server does on create: a name (or generateName) in the kind's syntax,
 * a namespace that is a DNS-1123 label (or absent for cluster-scoped kinds), well-formed labels and annotation keys.
 */
export function validateObjectMeta(metadata: unknown, rules: ObjectMetaRules): FieldError[] {
  const errors: FieldError[] = [];
  if (metadata === undefined) return [required('metadata')];
  if (!expectObject(metadata, 'metadata', errors)) return errors;
  const nameErrors = rules.nameErrors ?? dns1123SubdomainErrors;
  if (metadata.name === undefined || metadata.name === '') {
    if (metadata.generateName === undefined || metadata.generateName === '') {
      errors.push(required('metadata.name', 'name or generateName is required'));
    }
  } else {
    syntax('metadata.name', metadata.name, nameErrors, errors);
  }
  if (metadata.namespace !== undefined && metadata.namespace !== '') {
    if (!rules.namespaced) errors.push(forbidden('metadata.namespace', 'not allowed on this type'));
    else syntax('metadata.namespace', metadata.namespace, dns1123LabelErrors, errors);
  }
  if (metadata.labels !== undefined) validateStringMap('metadata.labels', metadata.labels, errors, qualifiedNameErrors, labelValueErrors);
  if (metadata.annotations !== undefined) validateStringMap('metadata.annotations', metadata.annotations, errors, (k) => qualifiedNameErrors(k.toLowerCase()));
  return errors;
}

const serviceTypes = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'] as const;

function validateService(obj: Obj): FieldError[] {
  const errors: FieldError[] = [];
  const spec = obj.spec;
  if (spec === undefined) return [required('spec')];
  if (!expectObject(spec, 'spec', errors)) return errors;
  if (spec.type !== undefined && !(serviceTypes as readonly unknown[]).includes(spec.type)) errors.push(unsupported('spec.type', spec.type, serviceTypes));
  if (spec.type === 'ExternalName') {
    if (spec.externalName === undefined || spec.externalName === '') errors.push(required('spec.externalName'));
    else syntax('spec.externalName', spec.externalName, dns1123SubdomainErrors, errors);
  } else if (expectArray(spec.ports, 'spec.ports', errors)) {
    if (spec.ports.length === 0) errors.push(required('spec.ports'));
    const names = new Set<string>();
    spec.ports.forEach((port, i) => {
      const path = index('spec.ports', i);
      if (!expectObject(port, path, errors)) return;
      if (port.name === undefined || port.name === '') {
        // A lone port may stay unnamed; with several, EndpointSlice ports are matched by name.
        if (spec.ports instanceof Array && spec.ports.length > 1) errors.push(required(`${path}.name`));
      } else {
        syntax(`${path}.name`, port.name, dns1123LabelErrors, errors);
        if (typeof port.name === 'string') {
          if (names.has(port.name)) errors.push(duplicate(`${path}.name`, port.name));
          names.add(port.name);
        }
      }
      if (port.port === undefined) errors.push(required(`${path}.port`));
      else validatePortNumber(`${path}.port`, port.port, errors);
      validateProtocol(`${path}.protocol`, port.protocol, errors);
      if (typeof port.targetPort === 'string') syntax(`${path}.targetPort`, port.targetPort, portNameErrors, errors);
      else if (port.targetPort !== undefined && port.targetPort !== 0) validatePortNumber(`${path}.targetPort`, port.targetPort, errors);
      if (port.appProtocol !== undefined) syntax(`${path}.appProtocol`, port.appProtocol, qualifiedNameErrors, errors);
    });
  } else if (spec.ports === undefined) {
    errors.push(required('spec.ports'));
  }
  if (spec.selector !== undefined) validateStringMap('spec.selector', spec.selector, errors, qualifiedNameErrors, labelValueErrors);
  return errors;
}

const addressTypes = ['FQDN', 'IPv4', 'IPv6'] as const;

function addressErrors(addressType: unknown, address: string): string[] {
  if (addressType === 'IPv4') return /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(address) ? [] : ['must be a valid IPv4 address'];
  if (addressType === 'IPv6') return isIPv6(address) ? [] : ['must be a valid IPv6 address'];
  if (addressType === 'FQDN') return dns1123SubdomainErrors(address);
  return [];
}

function isIPv6(address: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(address) || !address.includes(':')) return false;
  const halves = address.split('::');
  if (halves.length > 2) return false;
  const groups = halves.flatMap((h) => (h === '' ? [] : h.split(':')));
  if (groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  return halves.length === 2 ? groups.length < 8 : groups.length === 8;
}

function validateEndpointSlice(obj: Obj): FieldError[] {
  const errors: FieldError[] = [];
  if (obj.addressType === undefined) errors.push(required('addressType'));
  else if (!(addressTypes as readonly unknown[]).includes(obj.addressType)) errors.push(unsupported('addressType', obj.addressType, addressTypes));
  // A slice without endpoints is valid (the API server decodes it as an empty list): Services whose
  // endpoints are managed by hand start out that way.
  if (obj.endpoints !== null && expectArray(obj.endpoints, 'endpoints', errors)) {
    obj.endpoints.forEach((endpoint, i) => {
      const path = index('endpoints', i);
      if (!expectObject(endpoint, path, errors)) return;
      if (!Array.isArray(endpoint.addresses) || endpoint.addresses.length === 0) {
        errors.push(required(`${path}.addresses`, 'must contain at least 1 address'));
      } else {
        if (endpoint.addresses.length > 100) errors.push({ path: `${path}.addresses`, message: `Too many: ${endpoint.addresses.length}: must have at most 100 items` });
        endpoint.addresses.forEach((address, j) => syntax(index(`${path}.addresses`, j), address, (a) => addressErrors(obj.addressType, a), errors));
      }
      if (endpoint.conditions !== undefined && expectObject(endpoint.conditions, `${path}.conditions`, errors)) {
        for (const c of ['ready', 'serving', 'terminating']) {
          const v = endpoint.conditions[c];
          if (v !== undefined && v !== null && typeof v !== 'boolean') errors.push(invalid(`${path}.conditions.${c}`, v, 'must be a boolean'));
        }
      }
      if (endpoint.nodeName !== undefined) syntax(`${path}.nodeName`, endpoint.nodeName, dns1123SubdomainErrors, errors);
    });
  }
  if (expectArray(obj.ports, 'ports', errors)) {
    const names = new Set<string>();
    obj.ports.forEach((port, i) => {
      const path = index('ports', i);
      if (!expectObject(port, path, errors)) return;
      const name = port.name ?? '';
      if (name !== '') syntax(`${path}.name`, name, dns1123LabelErrors, errors);
      if (typeof name === 'string') {
        if (names.has(name)) errors.push(duplicate(`${path}.name`, name));
        names.add(name);
      }
      if (port.port !== undefined && port.port !== null) validatePortNumber(`${path}.port`, port.port, errors);
      validateProtocol(`${path}.protocol`, port.protocol, errors);
    });
  }
  return errors;
}

function base64Errors(value: string): string[] {
  const clean = value.replace(/\s/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0) return ['must be base64-encoded'];
  return [];
}

function validateDataMaps(obj: Obj, dataField: 'data' | 'binaryData', plainField: 'stringData' | 'data', errors: FieldError[], encoded: boolean): void {
  for (const field of [dataField, plainField]) {
    const map = obj[field];
    if (map === undefined || map === null) continue;
    const isEncoded = encoded && field === dataField;
    validateStringMap(field, map, errors, configMapKeyErrors, isEncoded ? base64Errors : undefined);
  }
}

const tlsSecretKeys = ['tls.crt', 'tls.key'];

function validateSecret(obj: Obj): FieldError[] {
  const errors: FieldError[] = [];
  validateDataMaps(obj, 'data', 'stringData', errors, true);
  if (obj.type !== undefined && typeof obj.type !== 'string') errors.push(invalid('type', obj.type, 'must be a string'));
  if (obj.type === 'kubernetes.io/tls') {
    const data = isObject(obj.data) ? obj.data : {};
    const stringData = isObject(obj.stringData) ? obj.stringData : {};
    for (const key of tlsSecretKeys) if (!(key in data) && !(key in stringData)) errors.push(required(index('data', key)));
  }
  return errors;
}

function validateConfigMap(obj: Obj): FieldError[] {
  const errors: FieldError[] = [];
  validateStringMap('data', obj.data ?? {}, errors, configMapKeyErrors);
  if (obj.binaryData !== undefined) validateStringMap('binaryData', obj.binaryData, errors, configMapKeyErrors, base64Errors);
  if (isObject(obj.data) && isObject(obj.binaryData)) {
    for (const key of Object.keys(obj.binaryData)) {
      if (key in obj.data) errors.push(invalid('data', key, 'duplicate of key present in binaryData'));
    }
  }
  return errors;
}

function validatePodSpec(spec: unknown, path: string, errors: FieldError[]): void {
  if (spec === undefined) {
    errors.push(required(path));
    return;
  }
  if (!expectObject(spec, path, errors)) return;
  const containers = spec.containers;
  if (containers === undefined || (Array.isArray(containers) && containers.length === 0)) {
    errors.push(required(`${path}.containers`));
    return;
  }
  if (!expectArray(containers, `${path}.containers`, errors)) return;
  const names = new Set<string>();
  containers.forEach((container, i) => {
    const cpath = index(`${path}.containers`, i);
    if (!expectObject(container, cpath, errors)) return;
    if (container.name === undefined || container.name === '') errors.push(required(`${cpath}.name`));
    else {
      syntax(`${cpath}.name`, container.name, dns1123LabelErrors, errors);
      if (typeof container.name === 'string') {
        if (names.has(container.name)) errors.push(duplicate(`${cpath}.name`, container.name));
        names.add(container.name);
      }
    }
    if (expectArray(container.ports, `${cpath}.ports`, errors)) {
      container.ports.forEach((port, j) => {
        const ppath = index(`${cpath}.ports`, j);
        if (!expectObject(port, ppath, errors)) return;
        if (port.containerPort === undefined) errors.push(required(`${ppath}.containerPort`));
        else validatePortNumber(`${ppath}.containerPort`, port.containerPort, errors);
        if (port.name !== undefined) syntax(`${ppath}.name`, port.name, portNameErrors, errors);
        validateProtocol(`${ppath}.protocol`, port.protocol, errors);
      });
    }
  });
}

function validatePod(obj: Obj): FieldError[] {
  const errors: FieldError[] = [];
  validatePodSpec(obj.spec, 'spec', errors);
  return errors;
}

function validateDeployment(obj: Obj): FieldError[] {
  const errors: FieldError[] = [];
  const spec = obj.spec;
  if (spec === undefined) return [required('spec')];
  if (!expectObject(spec, 'spec', errors)) return errors;
  if (spec.replicas !== undefined && (typeof spec.replicas !== 'number' || !Number.isInteger(spec.replicas) || spec.replicas < 0)) {
    errors.push(invalid('spec.replicas', spec.replicas, 'must be greater than or equal to 0'));
  }
  const selector = spec.selector;
  if (selector === undefined) errors.push(required('spec.selector'));
  else if (expectObject(selector, 'spec.selector', errors)) {
    if (selector.matchLabels === undefined && selector.matchExpressions === undefined) {
      errors.push(invalid('spec.selector', selector, 'empty selector is invalid for deployment'));
    }
  }
  if (spec.template === undefined) {
    errors.push(required('spec.template'));
    return errors;
  }
  if (!expectObject(spec.template, 'spec.template', errors)) return errors;
  const templateLabels = isObject(spec.template.metadata) && isObject(spec.template.metadata.labels) ? spec.template.metadata.labels : {};
  if (isObject(selector) && isObject(selector.matchLabels)) {
    const matches = Object.entries(selector.matchLabels).every(([k, v]) => templateLabels[k] === v);
    if (!matches) errors.push(invalid('spec.template.metadata.labels', templateLabels, '`selector` does not match template `labels`'));
  }
  validatePodSpec(spec.template.spec, 'spec.template.spec', errors);
  return errors;
}

/** The core kinds Tendril reads, by "group/Kind" ("" for the core group). */
const coreKinds: Record<string, CoreKind> = {
  '/Namespace': { namespaced: false, nameErrors: dns1123LabelErrors },
  '/Service': { namespaced: true, nameErrors: dns1035LabelErrors, validate: validateService },
  '/Secret': { namespaced: true, validate: validateSecret },
  '/ConfigMap': { namespaced: true, validate: validateConfigMap },
  '/Pod': { namespaced: true, validate: validatePod },
  'discovery.k8s.io/EndpointSlice': { namespaced: true, validate: validateEndpointSlice },
  'apps/Deployment': { namespaced: true, validate: validateDeployment },
};

const coreVersions: Record<string, string> = { '': 'v1', 'discovery.k8s.io': 'discovery.k8s.io/v1', apps: 'apps/v1' };

/** Whether `validateCoreObject` knows this apiVersion and kind. */
export function isCoreKind(apiVersion: string, kind: string): boolean {
  const group = groupOf(apiVersion);
  return `${group}/${kind}` in coreKinds && coreVersions[group] === apiVersion;
}

/**
 * Validates a Namespace, Service, EndpointSlice, Secret, ConfigMap, Pod or Deployment.
 * Returns [] when the object is valid; an unknown kind is reported as an error, never thrown.
 */
export function validateCoreObject(obj: unknown): FieldError[] {
  if (!isObject(obj)) return [invalid('', obj, 'must be an object')];
  const { apiVersion, kind } = obj;
  if (typeof apiVersion !== 'string' || apiVersion === '') return [required('apiVersion')];
  if (typeof kind !== 'string' || kind === '') return [required('kind')];
  if (!isCoreKind(apiVersion, kind)) return [{ path: 'kind', message: `no kind "${kind}" is registered for version "${apiVersion}"` }];
  const rules = coreKinds[`${groupOf(apiVersion)}/${kind}`];
  return [...validateObjectMeta(obj.metadata, rules), ...(rules.validate ? rules.validate(obj) : [])];
}
