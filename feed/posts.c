/* feed/posts.c: post_json() rows into API `post` objects with signed media URLs. */
#include "feed/posts.h"

#include "core/sign.h"

#include <stdio.h>
#include <string.h>

time_t feed_media_url_expiry(time_t now)
{
    time_t t = now + SIGN_URL_TTL_S;
    return t + (3600 - t % 3600);
}

static json_t *url_of(const json_t *row, const unsigned char key[32], time_t expires, const char *base)
{
    char path[256], url[512];
    core_sign_media_url(key, json_string_value(json_object_get(row, "id")), expires, path, sizeof path);
    snprintf(url, sizeof url, "%s%s", base, path);
    return json_string(url);
}

/* {video: {url, mime, width, height, duration_ms, bytes}, poster: [{url, width, height}]
 * smallest first, preview: {url} | null}, or null for a post without a video. */
static json_t *media_json(const json_t *rows, const unsigned char key[32], time_t expires, const char *base)
{
    json_t *video = NULL, *preview = json_null(), *poster = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        const char *kind = json_string_value(json_object_get(row, "kind"));
        if (!kind) continue;
        if (strcmp(kind, "video") == 0 && !video) {
            video = json_pack("{s:o,s:O,s:O,s:O,s:O,s:O}", "url", url_of(row, key, expires, base),
                              "mime", json_object_get(row, "mime"), "width", json_object_get(row, "width"),
                              "height", json_object_get(row, "height"),
                              "duration_ms", json_object_get(row, "duration_ms"),
                              "bytes", json_object_get(row, "bytes"));
        } else if (strcmp(kind, "poster") == 0) {
            json_array_append_new(poster, json_pack("{s:o,s:O,s:O}", "url", url_of(row, key, expires, base),
                                                    "width", json_object_get(row, "width"),
                                                    "height", json_object_get(row, "height")));
        } else if (strcmp(kind, "preview") == 0) {
            json_decref(preview);
            preview = json_pack("{s:o}", "url", url_of(row, key, expires, base));
        }
    }
    if (!video) {
        json_decref(poster);
        json_decref(preview);
        return json_null();
    }
    return json_pack("{s:o,s:o,s:o}", "video", video, "poster", poster, "preview", preview);
}

json_t *feed_post_from_json_text(const char *text, const unsigned char key[32], time_t expires,
                                 const char *base_url)
{
    json_t *post = json_loads(text, 0, NULL);
    if (!json_is_object(post)) {
        json_decref(post);
        return NULL;
    }
    json_t *rows = json_object_get(post, "media_rows");
    json_object_set_new(post, "media", media_json(rows, key, expires, base_url));
    json_object_del(post, "media_rows");
    if (!json_is_object(json_object_get(post, "viewer")))
        json_object_set_new(post, "viewer", json_pack("{s:b}", "liked", 0));
    return post;
}
