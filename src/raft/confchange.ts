import type { Progress } from "./progress.js";
import { configMembers, isJoint, type ProgressTracker, type TrackerConfig } from "./tracker.js";
import { type ConfChange, ConfChangeTransition, ConfChangeType, type Index, type NodeId } from "./types.js";

/**
 * A configuration change's result: the new configuration and progress map, or why it is invalid.
 * Existing progress records are shared with the tracker and left untouched (the result may be a
 * dry run); whoever installs the result sets each record's `isLearner` from {@link isLearnerIn}.
 */
export type ChangeResult =
  | { readonly ok: true; readonly config: TrackerConfig; readonly progress: Map<NodeId, Progress> }
  | { readonly ok: false; readonly error: string };

/** Whether `id` is a learner (not a voter of either half) in `cfg`. */
export function isLearnerIn(cfg: TrackerConfig, id: NodeId): boolean {
  return (
    (cfg.learners.has(id) || cfg.learnersNext.has(id)) && !cfg.voters.has(id) && !cfg.votersOutgoing.has(id)
  );
}

/** Whether `cc` enters a joint configuration (more than one change, or a joint transition asked for). */
export function entersJoint(cc: ConfChange): boolean {
  return cc.changes.length > 1 || cc.transition !== ConfChangeTransition.auto;
}

/** Whether `cc` is the empty change that leaves a joint configuration. */
export function leavesJoint(cc: ConfChange): boolean {
  return cc.changes.length === 0;
}

interface Mutable {
  voters: Set<NodeId>;
  votersOutgoing: Set<NodeId>;
  learners: Set<NodeId>;
  learnersNext: Set<NodeId>;
  autoLeave: boolean;
}

function copy(c: TrackerConfig): Mutable {
  return {
    voters: new Set(c.voters),
    votersOutgoing: new Set(c.votersOutgoing),
    learners: new Set(c.learners),
    learnersNext: new Set(c.learnersNext),
    autoLeave: c.autoLeave,
  };
}

/**
 * Computes the configuration after applying `cc` to the tracker's current one, without changing
 * the tracker. `lastIndex` seeds the progress of added nodes. Rules (etcd's ConfChangeV2): a
 * simple change alters at most one voter; a joint change starts from a non-joint configuration;
 * leaving requires a joint one; a configuration always keeps at least one voter; a node is never
 * both voter and learner.
 */
export function applyChange(tracker: ProgressTracker, cc: ConfChange, lastIndex: Index): ChangeResult {
  const cur = tracker.config;
  const joint = isJoint(cur);
  if (leavesJoint(cc)) {
    if (!joint) return { ok: false, error: "cannot leave a joint configuration: it is not joint" };
    const cfg = copy(cur);
    for (const id of cfg.learnersNext) cfg.learners.add(id);
    cfg.learnersNext.clear();
    cfg.votersOutgoing.clear();
    cfg.autoLeave = false;
    return finish(tracker, cfg, lastIndex);
  }
  if (joint) return { ok: false, error: "cannot change a joint configuration before leaving it" };
  if (cur.voters.size === 0) {
    // A node with no configuration joined with empty storage; replaying changes on top of
    // nothing would invent a configuration (e.g. itself as the only voter: split brain). It
    // learns the configuration from a snapshot instead (see MemoryStorage.bootstrap).
    return { ok: false, error: "this node has no configuration yet; it must learn one from a snapshot" };
  }
  const cfg = copy(cur);
  const enter = entersJoint(cc);
  if (enter) {
    if (cur.voters.size === 0)
      return { ok: false, error: "cannot enter a joint configuration with no voters" };
    cfg.votersOutgoing = new Set(cur.voters);
    cfg.autoLeave = cc.transition !== ConfChangeTransition.jointExplicit;
  }
  for (const change of cc.changes) {
    const id = change.nodeId;
    if (!Number.isSafeInteger(id) || id <= 0)
      return { ok: false, error: `node id must be positive, got ${id}` };
    switch (change.type) {
      case ConfChangeType.addNode:
        cfg.voters.add(id);
        cfg.learners.delete(id);
        cfg.learnersNext.delete(id);
        break;
      case ConfChangeType.addLearner:
        cfg.voters.delete(id);
        if (cfg.votersOutgoing.has(id)) cfg.learnersNext.add(id);
        else cfg.learners.add(id);
        break;
      case ConfChangeType.removeNode:
        cfg.voters.delete(id);
        cfg.learners.delete(id);
        cfg.learnersNext.delete(id);
        break;
    }
  }
  if (!enter) {
    let changed = 0;
    for (const id of cfg.voters) if (!cur.voters.has(id)) changed++;
    for (const id of cur.voters) if (!cfg.voters.has(id)) changed++;
    if (changed > 1) return { ok: false, error: "more than one voter changed without joint consensus" };
  }
  return finish(tracker, cfg, lastIndex);
}

function finish(tracker: ProgressTracker, cfg: Mutable, lastIndex: Index): ChangeResult {
  if (cfg.voters.size === 0) return { ok: false, error: "removed all voters" };
  for (const id of cfg.learners) {
    if (cfg.voters.has(id) || cfg.votersOutgoing.has(id))
      return { ok: false, error: `node ${id} is both voter and learner` };
  }
  for (const id of cfg.learnersNext) {
    if (!cfg.votersOutgoing.has(id))
      return { ok: false, error: `node ${id} is in learnersNext but not an outgoing voter` };
  }
  const members = configMembers(cfg);
  const progress = new Map<NodeId, Progress>();
  for (const id of [...members].sort((a, b) => a - b)) {
    const isLearner =
      (cfg.learners.has(id) || cfg.learnersNext.has(id)) &&
      !cfg.voters.has(id) &&
      !cfg.votersOutgoing.has(id);
    const existing = tracker.progress.get(id);
    if (existing !== undefined) {
      // Not mutated here: this may be a dry run (validating a proposal); see `isLearner`.
      progress.set(id, existing);
    } else {
      const pr = tracker.newProgress(lastIndex + 1, isLearner);
      // A node just added counts as active so CheckQuorum does not depose the leader before it is heard.
      pr.recentActive = true;
      progress.set(id, pr);
    }
  }
  return { ok: true, config: cfg, progress };
}
