import type { FieldError, KubeObject } from '@tendril/api-k8s';
import type { ResourceKey } from '@tendril/store';
import { parseAllDocuments } from 'yaml';
import { checkObject, type ObjectCheckOptions } from './check-object';
import type { SourceError } from './resource-source';

/** A valid object found in a file, with where it came from. */
export interface ParsedObject {
  key: ResourceKey;
  object: KubeObject;
  /** "HTTPRoute default/foo" */
  description: string;
  documentIndex: number;
  /** Position in the `items` of a List document. */
  itemIndex?: number;
}

/** A document (or List item) that failed, and what it claims to define when that is readable. */
export interface FailedDocument {
  documentIndex: number;
  itemIndex?: number;
  key?: ResourceKey;
}

export interface ParsedFile {
  objects: ParsedObject[];
  failures: FailedDocument[];
  errors: SourceError[];
  /**
   * The file has a syntax error. Syntax errors can swallow or split documents, so neither the
   * document positions nor the absence of an object can be trusted.
   */
  syntaxError: boolean;
}

/** Files the file source reads. */
export function isResourceFile(filePath: string): boolean {
  return /\.(ya?ml|json)$/i.test(filePath);
}

function isListDocument(value: unknown): value is { kind: string; items: unknown[] } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { kind, items } = value as Record<string, unknown>;
  return typeof kind === 'string' && kind.endsWith('List') && Array.isArray(items);
}

function prefixed(prefix: string, path: string): string {
  return path ? `${prefix}.${path}` : prefix;
}

/** "Missing closing "quote at line 4, column 1:\n\n…" → "Missing closing "quote". */
function firstLine(message: string): string {
  return message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
}

/** The result being built for one file, and how documents are added to it. */
function collector(file: string, options: ObjectCheckOptions): { result: ParsedFile; addDocument: (documentIndex: number, value: unknown) => void; addFieldErrors: (documentIndex: number, errors: FieldError[], description?: string) => void } {
  const result: ParsedFile = { objects: [], failures: [], errors: [], syntaxError: false };

  const addFieldErrors = (documentIndex: number, errors: FieldError[], description?: string): void => {
    for (const e of errors) result.errors.push({ file, documentIndex, path: e.path, message: e.message, ...(description ? { object: description } : {}) });
  };

  const addObject = (documentIndex: number, raw: unknown, itemIndex?: number): void => {
    const checked = checkObject(raw, options);
    const item = itemIndex === undefined ? {} : { itemIndex };
    if (checked.ok) {
      result.objects.push({ key: checked.identity.key, object: checked.object, description: checked.identity.description, documentIndex, ...item });
      return;
    }
    const errors = itemIndex === undefined ? checked.errors : checked.errors.map((e) => ({ ...e, path: prefixed(`items[${itemIndex}]`, e.path) }));
    addFieldErrors(documentIndex, errors, checked.identity?.description);
    result.failures.push({ documentIndex, ...item, ...(checked.identity ? { key: checked.identity.key } : {}) });
  };

  const addDocument = (documentIndex: number, value: unknown): void => {
    if (value === null || value === undefined) return;
    if (isListDocument(value)) value.items.forEach((item, i) => addObject(documentIndex, item, i));
    else addObject(documentIndex, value);
  };

  return { result, addDocument, addFieldErrors };
}

/**
 * Parses one file's text into objects and per-document errors. Pure: the caller reads the file.
 * `file` is only used to label errors. Multi-document YAML, `kind: List` documents (any kind
 * ending in "List" with an `items` list) and JSON are accepted; empty documents are skipped.
 */
export function parseResourceFile(file: string, text: string, options: ObjectCheckOptions = {}, previous?: DocumentReuse): ParsedFile {
  if (previous && !/\.json$/i.test(file)) {
    const reused = parseByDocument(file, text, options, previous);
    if (reused) return reused;
  }
  const { result, addDocument } = collector(file, options);
  if (/\.json$/i.test(file)) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      result.syntaxError = true;
      result.errors.push({ file, documentIndex: 1, path: '', message: `JSON syntax error: ${jsonMessage(err)}`, ...jsonPosition(err, text) });
      result.failures.push({ documentIndex: 1 });
      return result;
    }
    addDocument(1, value);
    return result;
  }

  return parseYamlDocuments(file, parseAllDocuments(text), options);
}

/** Parsed YAML documents → objects and per-document errors (document indexes from 1). */
function parseYamlDocuments(file: string, documents: ReturnType<typeof parseAllDocuments>, options: ObjectCheckOptions): ParsedFile {
  const { result, addDocument } = collector(file, options);
  documents.forEach((doc, i) => {
    const documentIndex = i + 1;
    if (doc.errors.length > 0) {
      result.syntaxError = true;
      const [first, ...more] = doc.errors;
      const position = first.linePos?.[0];
      const extra = more.length > 0 ? ` (and ${more.length} more error${more.length > 1 ? 's' : ''} in this document)` : '';
      let claimed: FailedDocument['key'];
      let description: string | undefined;
      try {
        // The partial parse often still names the object; that is how its last good version is found.
        const partial = checkObject(doc.toJS());
        claimed = partial.identity?.key;
        description = partial.identity?.description;
      } catch {
        // Nothing readable; the failure stays anonymous.
      }
      result.errors.push({
        file,
        documentIndex,
        path: '',
        message: `YAML syntax error: ${firstLine(first.message)}${extra}`,
        ...(description ? { object: description } : {}),
        ...(position ? { line: position.line, column: position.col } : {}),
      });
      result.failures.push({ documentIndex, ...(claimed ? { key: claimed } : {}) });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS();
    } catch (err) {
      // e.g. an alias to an undefined anchor, or more aliases than allowed (a "billion laughs" document).
      result.errors.push({ file, documentIndex, path: '', message: `YAML error: ${err instanceof Error ? err.message : String(err)}` });
      result.failures.push({ documentIndex });
      return;
    }
    addDocument(documentIndex, value);
  });
  return result;
}

/**
 * What parsing one file produced per document text, for the next parse of the same file: a
 * one-line edit in a file of a hundred routes then parses and validates one document, not a
 * hundred. Holds the documents of the file's last parse only.
 */
export class DocumentReuse {
  /** @internal document text → its outcome (numbered from 1) and how many documents it holds */
  documents = new Map<string, { parsed: ParsedFile; documents: number }>();
}

/**
 * A line starting with `---` (then a space, tab or line end) is a document start marker wherever
 * it is (YAML 1.2 forbids such lines inside any scalar), so the file splits there into chunks of
 * whole documents, each parsed on its own. Directives (`%YAML`) would belong to the next chunk, so
 * files with any are parsed whole; so is every file with a syntax error, whose positions must be
 * counted in the whole file. Returns undefined in those cases.
 */
function parseByDocument(file: string, text: string, options: ObjectCheckOptions, previous: DocumentReuse): ParsedFile | undefined {
  if (/^%/m.test(text)) return undefined;
  const chunks = text.split(/^(?=---(?:[ \t\r\n]|$))/m);
  if (chunks.length < 2) return undefined;
  const result: ParsedFile = { objects: [], failures: [], errors: [], syntaxError: false };
  const next: DocumentReuse['documents'] = new Map();
  let offset = 0;
  for (const chunk of chunks) {
    let outcome = next.get(chunk) ?? previous.documents.get(chunk);
    if (!outcome) {
      const documents = parseAllDocuments(chunk);
      const parsed = parseYamlDocuments(file, documents, options);
      if (parsed.syntaxError) return undefined;
      outcome = { parsed, documents: documents.length };
    }
    next.set(chunk, outcome);
    for (const o of outcome.parsed.objects) result.objects.push({ ...o, documentIndex: o.documentIndex + offset });
    for (const f of outcome.parsed.failures) result.failures.push({ ...f, documentIndex: f.documentIndex + offset });
    for (const e of outcome.parsed.errors) result.errors.push({ ...e, documentIndex: e.documentIndex + offset });
    offset += outcome.documents;
  }
  previous.documents = next;
  return result;
}

function jsonMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // V8 appends either the offset or a copy of the (possibly huge) input; the position is reported separately.
  return message
    .replace(/ in JSON at position \d+.*$/s, '')
    .replace(/, ".*" is not valid JSON$/s, '')
    .replace(/ \(line \d+ column \d+\)$/, '');
}

function jsonPosition(err: unknown, text: string): { line?: number; column?: number } {
  const message = err instanceof Error ? err.message : '';
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  if (lineColumn) return { line: Number(lineColumn[1]), column: Number(lineColumn[2]) };
  const offset = /at position (\d+)/.exec(message);
  if (offset) {
    const before = text.slice(0, Number(offset[1]));
    const lines = before.split('\n');
    return { line: lines.length, column: lines[lines.length - 1].length + 1 };
  }
  if (/Unexpected end of JSON input/.test(message)) {
    const lines = text.split('\n');
    return { line: lines.length, column: lines[lines.length - 1].length + 1 };
  }
  return {};
}
