import type { Condition } from './kube-types';

/** A condition before it is stamped with observedGeneration and lastTransitionTime. */
export interface ConditionDraft {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
}

export const cond = (type: string, status: boolean, reason: string, message: string): ConditionDraft => ({
  type,
  status: status ? 'True' : 'False',
  reason,
  message,
});

/**
 * Stamp drafts with the object's generation. lastTransitionTime is carried over from the previous
 * condition of the same type when its status did not change (so status writes stay idempotent), and
 * is `now` otherwise.
 */
export function stampConditions(
  drafts: readonly ConditionDraft[],
  previous: readonly Condition[] | undefined,
  generation: number | undefined,
  now: string,
): Condition[] {
  return drafts.map((draft) => {
    const before = previous?.find((c) => c.type === draft.type);
    const condition: Condition = {
      type: draft.type,
      status: draft.status,
      reason: draft.reason,
      message: draft.message,
      lastTransitionTime: before && before.status === draft.status && before.lastTransitionTime ? before.lastTransitionTime : now,
    };
    if (generation !== undefined) condition.observedGeneration = generation;
    return condition;
  });
}
