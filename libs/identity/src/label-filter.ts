/**
 * Which labels are security-relevant (Cilium's pkg/labelsfilter). Labels that change per replica
 * (pod-template-hash, controller-uid, statefulset pod names) must not reach the identity, or every
 * pod of a Deployment would get its own identity and every scale-up would rewrite policy maps.
 *
 * A pattern is a regular expression matched at the start of the label key; `!` makes it an
 * exclusion. When both kinds match, the longest matching include beats the shortest matching
 * exclusion (by matched length); `reserved:` labels are always kept.
 */
import { type Label, LabelSource } from './labels';

export interface LabelPattern {
  readonly pattern: string;
  readonly exclude: boolean;
  /** Restrict to one label source; undefined = any source. */
  readonly source?: string;
}

/** Cilium's default label prefixes (policy-semantics §2.4), including the newer per-pod exclusions. */
export const DEFAULT_LABEL_PATTERNS: readonly string[] = [
  'io\\.kubernetes\\.pod\\.namespace',
  'io\\.cilium\\.k8s\\.namespace\\.labels',
  'app\\.kubernetes\\.io',
  '!io\\.kubernetes',
  '!kubernetes\\.io',
  '!.*beta\\.kubernetes\\.io',
  '!k8s\\.io',
  '!pod-template-generation',
  '!pod-template-hash',
  '!controller-revision-hash',
  '!controller-uid',
  '!annotation.*',
  '!etcd_node',
  '!statefulset\\.kubernetes\\.io/pod-name',
  '!apps\\.kubernetes\\.io/pod-index',
  '!batch\\.kubernetes\\.io/job-completion-index',
  '!batch\\.kubernetes\\.io/controller-uid',
];

interface CompiledPattern {
  readonly regex: RegExp;
  readonly exclude: boolean;
  readonly source?: string;
}

export class LabelFilter {
  private readonly patterns: CompiledPattern[];

  /**
   * `onlyIncluded`: keep only labels an include pattern matches (Cilium's behaviour once a user
   * configures their own include prefixes); otherwise keep everything no exclusion wins over.
   */
  constructor(
    patterns: readonly (string | LabelPattern)[],
    private readonly onlyIncluded = false,
  ) {
    this.patterns = patterns.map((p) => {
      const spec = typeof p === 'string' ? parsePattern(p) : p;
      let regex: RegExp;
      try {
        regex = new RegExp(`^(?:${spec.pattern})`);
      } catch (err) {
        throw new Error(`invalid label filter pattern ${JSON.stringify(spec.pattern)}: ${(err as Error).message}`);
      }
      return { regex, exclude: spec.exclude, source: spec.source };
    });
  }

  /** Whether this label takes part in the identity. */
  keeps(l: Label): boolean {
    if (l.source === LabelSource.RESERVED) return true;
    let included = 0;
    let excluded = 0;
    for (const p of this.patterns) {
      if (p.source !== undefined && p.source !== l.source) continue;
      const m = p.regex.exec(l.key);
      if (!m) continue;
      const length = m[0].length;
      if (p.exclude) {
        if (excluded === 0 || length < excluded) excluded = length;
      } else if (length > included) {
        included = length;
      }
    }
    return (!this.onlyIncluded && excluded === 0) || included > excluded;
  }

  filter(labels: Iterable<Label>): Label[] {
    return [...labels].filter((l) => this.keeps(l));
  }
}

/** `!pattern` excludes; `source:pattern` restricts to a source (e.g. `k8s:team`). */
function parsePattern(text: string): LabelPattern {
  const exclude = text.startsWith('!');
  const body = exclude ? text.slice(1) : text;
  const colon = body.indexOf(':');
  if (colon > 0 && /^[a-z]+$/.test(body.slice(0, colon))) {
    return { pattern: body.slice(colon + 1), exclude, source: body.slice(0, colon) };
  }
  return { pattern: body, exclude };
}

export const defaultLabelFilter = new LabelFilter(DEFAULT_LABEL_PATTERNS);
