/** The private repository of the project the CLI runs in, when it is a folder without git (git/private-repo.ts). */
import { filesReposDir } from "../core/paths.js";
import { findRepo } from "../git/host-git.js";
import { existingPrivateRepo, type PrivateRepo } from "../git/private-repo.js";
import type { CliContext } from "./context.js";
import { CliError } from "./output.js";

/** undefined: the project is a git repository (its work is on branches there). */
export async function filesRepoOf(ctx: CliContext): Promise<PrivateRepo | undefined> {
  const directory = ctx.project.directory;
  if (await findRepo(directory)) return undefined;
  const found = await existingPrivateRepo({ directory, key: ctx.project.id, dir: filesReposDir() });
  if (!found)
    throw new CliError(`${directory} is not a git repository, and no session kept work for it here (run the command in the folder where you ran opencode).`);
  return found;
}
