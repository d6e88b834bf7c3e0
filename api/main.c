/* api/main.c: flickd's entry point: picks the role from the first argument. */
#include "api/cli.h"
#include "api/router.h"
#include "api/server.h"
#include "core/config.h"
#include "core/log.h"
#include "core/migrate.h"
#include "media/worker.h"
#include "ranking/role.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr,
            "usage: flickd serve | work | rank | all | migrate | seed | admin ... | routes\n"
            "  serve    the HTTP API\n"
            "  work     generation jobs (FLICK_WORKERS threads)\n"
            "  rank     fold engagement events into ranking signals; recompute trending\n"
            "  all      every role in one process\n"
            "  migrate  apply pending migrations/NNNN_*.sql\n"
            "  seed     make sure the demo admin exists; print a token and an invite code\n"
            "  admin    invite | create-user NAME --role R [--tier T]\n"
            "  routes   list every route the API answers\n"
            "Configuration is read from FLICK_* environment variables (see README.md).\n");
    return 2;
}

static const char *migrations_dir(void)
{
    const char *d = getenv("FLICK_MIGRATIONS_DIR");
    return d && *d ? d : "migrations";
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage();
    core_config cfg;
    char err[512];
    if (core_config_load(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "flickd: %s\n", err);
        return 2;
    }
    log_set_level((log_level)cfg.log_level);
    const char *cmd = argv[1];
    if (strcmp(cmd, "migrate") == 0) {
        if (core_migrate_apply(cfg.database_url, migrations_dir(), 1, err, sizeof err) != 0) {
            fprintf(stderr, "flickd: migrate: %s\n", err);
            return 1;
        }
        char policy[1100];
        snprintf(policy, sizeof policy, "%s/blocked_terms.txt", migrations_dir());
        return api_cli_seed_policy(&cfg, policy);
    }
    if (strcmp(cmd, "admin") == 0) return api_cli_admin(&cfg, argc - 2, argv + 2);
    if (strcmp(cmd, "seed") == 0) return api_cli_seed(&cfg);
    if (strcmp(cmd, "routes") == 0) {
        for (int i = 0; i < api_route_count; i++)
            printf("%s %s\n", api_method_name(api_routes[i].method), api_routes[i].pattern);
        return 0;
    }
    if (strcmp(cmd, "serve") == 0 || strcmp(cmd, "all") == 0 || strcmp(cmd, "work") == 0 ||
        strcmp(cmd, "rank") == 0) {
        if (core_migrate_check(cfg.database_url, migrations_dir(), err, sizeof err) != 0) {
            fprintf(stderr, "flickd: %s\n", err);
            return 1;
        }
        if (strcmp(cmd, "work") == 0) return media_work_run(&cfg);
        if (strcmp(cmd, "rank") == 0) return rank_role_run(&cfg);
        if (strcmp(cmd, "serve") == 0) return api_server_run(&cfg);
        /* all: the workers and the rank role run on their own threads beside the API's
         * event loops, and stop after the API has (SIGINT/SIGTERM reach the API's loop; the
         * other threads block them). */
        media_workers *workers = media_workers_start(&cfg, err, sizeof err);
        if (!workers) {
            fprintf(stderr, "flickd: %s\n", err);
            return 2;
        }
        rank_role *rank = rank_role_start(&cfg, err, sizeof err);
        if (!rank) {
            media_workers_stop(workers);
            fprintf(stderr, "flickd: %s\n", err);
            return 2;
        }
        int rc = api_server_run(&cfg);
        rank_role_stop(rank);
        media_workers_stop(workers);
        return rc;
    }
    return usage();
}
