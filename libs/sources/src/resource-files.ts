import type { KubeObject } from '@tendril/api-k8s';
import type { ResourceKey } from '@tendril/store';
import type { ParsedFile, ParsedObject } from './parse-file';
import type { SourceError } from './resource-source';

/** An object a file currently provides. */
interface Contribution extends ParsedObject {
  /** Kept from an earlier version of the file because the document that defined it is now invalid. */
  retained: boolean;
}

interface FileState {
  contributions: Contribution[];
  errors: SourceError[];
}

export interface ResolvedResources {
  /** The winning definition of every object, in path order of the files that define them. */
  objects: Map<ResourceKey, KubeObject>;
  /** File errors and duplicate definitions, ordered by file path and document. */
  errors: SourceError[];
}

/** Code-unit order: the same on every machine and locale, so "first file wins" is deterministic. */
function byPath(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * What every file in a directory contributes, and the rules that turn it into one set of objects.
 * Pure; FileSource feeds it files as it reads them.
 *
 * Last-good semantics, as for `kubectl apply` of an invalid object (rejected; the old object stays):
 * - a document that fails validation keeps the last valid version of the object it names;
 * - a document too broken to name its object keeps whatever its position (document, List item)
 *   in the file last defined;
 * - while a file has a syntax error, none of its objects is removed, because a syntax error can
 *   swallow or split documents and make a document look deleted;
 * - an unreadable file keeps all its objects; a deleted file, a removed document or an emptied
 *   document (in a file that parses) removes its objects.
 * Two definitions of one object: the first in path order (then document order) wins, and the
 * other is reported as an error naming both files.
 */
export class ResourceFiles {
  private readonly files = new Map<string, FileState>();

  /** @param display turns a file's key (its path relative to the directory) into the path shown in errors. */
  constructor(private readonly display: (file: string) => string) {}

  has(file: string): boolean {
    return this.files.has(file);
  }

  setParsed(file: string, parsed: ParsedFile): void {
    const previous = this.files.get(file)?.contributions ?? [];
    const contributions: Contribution[] = parsed.objects.map((o) => ({ ...o, retained: false }));
    const defined = new Set(contributions.map((c) => c.key));
    const keep = (c: Contribution): void => {
      if (defined.has(c.key)) return;
      defined.add(c.key);
      contributions.push({ ...c, retained: true });
    };
    if (parsed.syntaxError) {
      previous.forEach(keep);
    } else {
      for (const failure of parsed.failures) {
        const matches = failure.key
          ? (c: Contribution) => c.key === failure.key
          : (c: Contribution) => c.documentIndex === failure.documentIndex && (failure.itemIndex === undefined || c.itemIndex === failure.itemIndex);
        previous.filter(matches).forEach(keep);
      }
    }
    this.files.set(file, { contributions, errors: parsed.errors });
  }

  /** The file exists but cannot be read: keep everything it provided, report why. */
  setUnreadable(file: string, message: string): void {
    const previous = this.files.get(file)?.contributions ?? [];
    this.files.set(file, {
      contributions: previous.map((c) => ({ ...c, retained: true })),
      errors: [{ file: this.display(file), documentIndex: 0, path: '', message }],
    });
  }

  remove(file: string): void {
    this.files.delete(file);
  }

  /** Removes `dir` itself if it was a file, and every file below it ("" is the whole directory). */
  removeUnder(dir: string, except: ReadonlySet<string> = new Set()): void {
    for (const file of this.files.keys()) {
      if (except.has(file)) continue;
      if (dir === '' || file === dir || file.startsWith(`${dir}/`)) this.files.delete(file);
    }
  }

  resolve(): ResolvedResources {
    const objects = new Map<ResourceKey, KubeObject>();
    const firstDefinition = new Map<ResourceKey, { file: string; documentIndex: number }>();
    const errors: SourceError[] = [];
    for (const file of [...this.files.keys()].sort(byPath)) {
      const state = this.files.get(file) as FileState;
      const fileErrors = [...state.errors];
      for (const c of state.contributions) {
        const first = firstDefinition.get(c.key);
        if (first) {
          fileErrors.push({
            file: this.display(file),
            documentIndex: c.documentIndex,
            path: '',
            object: c.description,
            message: `duplicate definition: ${c.description} is already defined in ${this.display(first.file)} (document ${first.documentIndex}); this one is ignored`,
          });
          continue;
        }
        firstDefinition.set(c.key, { file, documentIndex: c.documentIndex });
        objects.set(c.key, c.object);
      }
      errors.push(...fileErrors.sort((a, b) => a.documentIndex - b.documentIndex));
    }
    return { objects, errors };
  }
}
