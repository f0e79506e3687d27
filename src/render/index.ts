// Public face of render/: the only code that writes rendered secrets. Use-cases import from here;
// the modules behind it own target safety, git exposure, the render (and sops write) locks and the atomic swap.
export {
  acquireServiceLock,
  planTargets,
  writeTargetsAtomically,
  type PlanAction,
  type TargetPlan,
  type TargetWrite,
  type TargetWriteResult,
  type WriteHooks,
  type WriteOutcome,
  type WriteTargetsOptions,
} from './atomic-write.js';
export { gitClearsTargets, gitignoreLineFor, type GitExposure } from './git-exposure.js';
export { createGitVerdictCache, type GitVerdictCache } from './git-answer-cache.js';
export { acquireRenderLock, acquireSopsWriteLock, DEFAULT_LOCK_TIMEOUT_MS, lockPathOf, sopsLockPathOf, type RenderLock } from './render-lock.js';
export { cleanStaleTemps } from './stale-temps.js';
export { DEFAULT_TARGET_MODE, preflightTargets, type PreflightOptions, type PreflightResult, type TargetSpec } from './target-safety.js';
export { resolvePrincipal, type Principal } from './ownership.js';
export { sourcesGitWillNotCommit, trackedFiles, type IgnoredSource } from './source-commit.js';
