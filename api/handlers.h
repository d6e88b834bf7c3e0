/* api/handlers.h: every request handler, one file per resource. A handler reads the
 * request, calls the domain (feed/, ranking/, media/) and answers exactly once. */
#ifndef FLICK_API_HANDLERS_H
#define FLICK_API_HANDLERS_H

#include "api/http.h"

/* ops.c */
void api_healthz(api_req *r);
void api_readyz(api_req *r);
void api_metrics(api_req *r);

/* accounts.c */
void api_signup(api_req *r);
void api_login(api_req *r);
void api_logout(api_req *r);
void api_me_get(api_req *r);
void api_me_patch(api_req *r);
void api_invites_list(api_req *r);
void api_invites_create(api_req *r);
void api_user_get(api_req *r);
void api_user_follow(api_req *r);
void api_user_unfollow(api_req *r);

/* cameos.c */
void api_cameo_put(api_req *r);
void api_cameo_delete(api_req *r);
void api_cameo_approvals_list(api_req *r);
void api_cameo_approval_add(api_req *r);
void api_cameo_approval_delete(api_req *r);
void api_cameo_appearances(api_req *r);
void api_post_cameo_takedown(api_req *r);

/* generations.c */
void api_generation_create(api_req *r);
void api_generation_get(api_req *r);
void api_generations_list(api_req *r);
void api_generation_cancel(api_req *r);

/* posts.c */
void api_user_posts(api_req *r);
void api_post_get(api_req *r);
void api_drafts_list(api_req *r);
void api_post_publish(api_req *r);
void api_post_patch(api_req *r);
void api_post_delete(api_req *r);

/* engagement.c */
void api_post_like(api_req *r);
void api_post_unlike(api_req *r);
void api_events_post(api_req *r);
void api_post_remixes(api_req *r);
void api_post_lineage(api_req *r);

/* feed.c */
void api_feed_for_you(api_req *r);
void api_feed_following(api_req *r);
void api_feed_trending(api_req *r);
void api_feed_prefs_get(api_req *r);
void api_feed_prefs_put(api_req *r);

/* notifications.c */
void api_notifications_list(api_req *r);
void api_notifications_read(api_req *r);

/* moderation.c */
void api_post_report(api_req *r);
void api_moderation_queue(api_req *r);
void api_moderation_claim(api_req *r);
void api_moderation_decide(api_req *r);
void api_moderation_audit(api_req *r);

/* admin.c */
void api_admin_role_put(api_req *r);
void api_admin_limits_get(api_req *r);
void api_admin_limits_put(api_req *r);
void api_admin_policy_get(api_req *r);
void api_admin_policy_put(api_req *r);

/* media.c: signed URL or token; checks the token itself (AUTH_NONE in the table) */
void api_media_get(api_req *r);

/* provenance.c */
void api_provenance_get(api_req *r);
void api_provenance_lookup(api_req *r);   /* raw image body, not JSON */

/* console.c: the moderator console's static files (web/console), public like any page;
 * the console signs in through the API */
void api_console_redirect(api_req *r);    /* /console → /console/ */
void api_console_index(api_req *r);
void api_console_asset(api_req *r);

#endif
