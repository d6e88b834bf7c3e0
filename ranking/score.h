/* ranking/score.h: how much a post deserves a slot: engagement velocity with time decay,
 * Bayesian-smoothed like, completion, remix and skip rates, freshness, and, for one viewer,
 * author affinity, preference terms and sinks; a report penalty for everyone. Pure: the
 * caller gathers the signals (PostgreSQL totals, Redis counters) and the clock.
 * Not for choosing candidates or arranging a page (diversity.h). */
#ifndef FLICK_RANKING_SCORE_H
#define FLICK_RANKING_SCORE_H

#include <stdbool.h>
#include <stdint.h>

/* Half-life of the engagement velocity the rank role keeps per post. */
#define RANK_VELOCITY_HALFLIFE_S 3600.0
/* Half-life of freshness; an old post keeps RANK_FRESH_FLOOR of it. */
#define RANK_FRESH_HALFLIFE_S (24 * 3600.0)
#define RANK_FRESH_FLOOR 0.1
/* Smoothing: every rate starts as if RANK_PRIOR_VIEWS viewers had behaved like the
 * average post, so a post with 1 like out of 1 view does not outrank 500 out of 1000. */
#define RANK_PRIOR_VIEWS 20.0
#define RANK_PRIOR_LIKE 0.05
#define RANK_PRIOR_COMPLETE 0.3
#define RANK_PRIOR_REMIX 0.01
#define RANK_PRIOR_SKIP 0.3
#define RANK_PRIOR_NOT_INTERESTED 0.02
/* Multipliers of the viewer's steering: a `more` term matched, a `less` term matched, a
 * post sharing its remix root with one the viewer was not interested in. */
#define RANK_PREF_MORE 4.0
#define RANK_PREF_LESS 0.1
#define RANK_SIMILAR_NOT_INTERESTED 0.2
/* GET/PUT /v1/me/feed-preferences: terms per list, and characters per term as sent. */
#define RANK_PREF_MAX_TERMS 20
#define RANK_PREF_MAX_TERM_CHARS 40
/* Event weights in the velocity. */
#define RANK_WEIGHT_VIEW 1.0
#define RANK_WEIGHT_COMPLETE 2.0
#define RANK_WEIGHT_SHARE 5.0
#define RANK_WEIGHT_LIKE 3.0
/* Likes older than this add nothing to the velocity (they are 1/64 of a new one by then). */
#define RANK_RECENT_LIKES_S (6 * RANK_VELOCITY_HALFLIFE_S)

#define RANK_STR_(x) #x
#define RANK_STR(x) RANK_STR_(x)
/* SQL for rank_signals.recent_likes of the post whose id is the SQL expression `post`
 * (index likes_post). */
#define RANK_SQL_RECENT_LIKES(post) \
    "(SELECT COALESCE(sum(exp(-extract(epoch FROM now() - l.created_at)::float8 * ln(2) / " \
    RANK_STR(RANK_VELOCITY_HALFLIFE_S) ")), 0) FROM likes l WHERE l.post_id = " post \
    " AND l.created_at > now() - " RANK_STR(RANK_RECENT_LIKES_S) " * interval '1 second')"

/* What is known about one post, for one viewer (or for nobody: leave the personal fields
 * zero for the global ranking). Counts that are unknown are 0. */
typedef struct rank_signals {
    double age_s;               /* since publication; negative counts as 0 */
    /* Durable totals (PostgreSQL). */
    double views, likes, remixes, shares;
    int open_reports;           /* reports not yet decided */
    /* Counters the rank role keeps in Redis (0 while Redis is unavailable). */
    double completes, skips, not_interested;
    double velocity;            /* weighted events, decayed to now (rank_velocity_now) */
    /* From PostgreSQL: likes are not events, so they join the velocity here. */
    double recent_likes;        /* likes in the last RANK_RECENT_LIKES_S, each decayed to now */
    /* Personal terms. */
    bool followed;              /* the viewer follows the author */
    double interactions;        /* the viewer's likes, completions and shares of the author */
    bool pref_more, pref_less;  /* a `more` / `less` term of the viewer matches */
    bool similar_not_interested;/* same remix root as a post the viewer was not interested in */
} rank_signals;

/* A score >= 0 (finite whatever the inputs); higher ranks first. */
double rank_score(const rank_signals *s);

/* A velocity `v` last updated at `vt` (Unix seconds) as it stands at `now`. */
double rank_velocity_now(double v, double vt, double now);

#endif
