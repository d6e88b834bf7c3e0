/* api/cli.h: the one-shot operator commands of flickd (admin invite, admin create-user,
 * seed). They block on a plain PostgreSQL connection: they are not servers. */
#ifndef FLICK_API_CLI_H
#define FLICK_API_CLI_H

#include "core/config.h"

/* `flickd admin ...`: returns the process exit code. */
int api_cli_admin(const core_config *cfg, int argc, char **argv);
/* `flickd seed`: makes sure the demo admin exists, then prints a fresh token for it and a
 * fresh invite code. The first time (unless FLICK_SEED_DEMO=0) it also makes the demo: four
 * people and a handful of published clips, remixes included, rendered by the builtin engine
 * through the job pipeline in this process (seconds). Returns the exit code. */
int api_cli_seed(const core_config *cfg);

/* Loads the policy's first terms from `path` once (while settings.policy_seeded is 0).
 * Returns the exit code. */
int api_cli_seed_policy(const core_config *cfg, const char *path);

#endif
