/* ranking/score.c: the scoring function of score.h. Every factor is a ratio around 1 for an
 * average post, so the factors multiply without one unit swamping another; inputs are
 * clamped first, so garbage from a cache can lower a post but never produce NaN. */
#include "ranking/score.h"

#include <math.h>

static double clamp0(double x)
{
    return isfinite(x) && x > 0 ? x : 0;
}

/* (hits + prior mass) / (trials + prior weight): a rate that needs evidence to move. */
static double smoothed(double hits, double trials, double prior)
{
    return (hits + RANK_PRIOR_VIEWS * prior) / (trials + RANK_PRIOR_VIEWS);
}

double rank_velocity_now(double v, double vt, double now)
{
    v = clamp0(v);
    if (!isfinite(vt) || !isfinite(now) || now <= vt) return v;
    return v * exp2(-(now - vt) / RANK_VELOCITY_HALFLIFE_S);
}

double rank_score(const rank_signals *s)
{
    double views = clamp0(s->views), completes = clamp0(s->completes);
    double skips = clamp0(s->skips), ni = clamp0(s->not_interested);
    /* Counters come from two stores at different moments: never fewer trials than hits. */
    double likes = clamp0(s->likes);
    double trials = fmax(fmax(views, likes), fmax(completes, skips + ni));
    double like = smoothed(likes, trials, RANK_PRIOR_LIKE);
    double complete = smoothed(completes, trials, RANK_PRIOR_COMPLETE);
    double remix = smoothed(clamp0(s->remixes), trials, RANK_PRIOR_REMIX);
    double skip = fmin(smoothed(skips, trials, RANK_PRIOR_SKIP), 0.99);
    double notint = fmin(smoothed(ni, trials, RANK_PRIOR_NOT_INTERESTED), 0.99);

    double quality = sqrt(like / RANK_PRIOR_LIKE) *
                     pow(complete / RANK_PRIOR_COMPLETE, 0.7) *
                     pow(remix / RANK_PRIOR_REMIX, 0.3) *
                     ((1 - skip) / (1 - RANK_PRIOR_SKIP)) *
                     ((1 - notint) / (1 - RANK_PRIOR_NOT_INTERESTED));
    /* Shares count in the velocity as they happen; the total adds a little lasting credit. */
    double velocity = clamp0(s->velocity) + RANK_WEIGHT_LIKE * clamp0(s->recent_likes);
    double momentum = 1 + log1p(velocity) + 0.1 * log1p(clamp0(s->shares));
    double fresh = RANK_FRESH_FLOOR +
                   (1 - RANK_FRESH_FLOOR) * exp2(-clamp0(s->age_s) / RANK_FRESH_HALFLIFE_S);
    double affinity = 1 + (s->followed ? 1.0 : 0.0) + 0.3 * log1p(clamp0(s->interactions));
    double steer = (s->pref_more ? RANK_PREF_MORE : 1.0) * (s->pref_less ? RANK_PREF_LESS : 1.0) *
                   (s->similar_not_interested ? RANK_SIMILAR_NOT_INTERESTED : 1.0);
    double reports = s->open_reports > 0 ? 1.0 / (1 + s->open_reports) : 1.0;

    double score = quality * momentum * fresh * affinity * steer * reports;
    return isfinite(score) && score > 0 ? score : 0;
}
