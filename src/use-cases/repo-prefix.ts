// Where the coffre repo root sits inside its git work tree: what makes report paths (SARIF, GitLab Code Quality)
// relative to the repository a CI service knows, even when coffre.yaml is in a subfolder.
import { gitPrefixOf } from '../render/git-tree.js';

/** `dir/` (posix, trailing slash), or "" at the top of the work tree, outside git, or without git. */
export function repoPrefixInGit(root: string): Promise<string> {
  return gitPrefixOf(root);
}
